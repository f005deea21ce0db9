// NHWC depthwise convolution with NEON: 4 channels a vector, channel tails through a small stack buffer
// (kernels/dwconv_nhwc.h). maxnm/minnm give the reference's fmax/fmin NaN handling for ReLU / Clip.
#include <arm_neon.h>

#include "kernels/arm/arm.h"
#include "kernels/dwconv_nhwc.h"

namespace pyrt::kernels::arm {
namespace {

struct VNeon {
  using T = float32x4_t;
  static constexpr int64_t kLanes = 4;
  static constexpr int kP = 4, kQ = 4;  // 16 accumulators
  static T zero() { return vdupq_n_f32(0.f); }
  static T set1(float f) { return vdupq_n_f32(f); }
  static T load(const float* p, int64_t n) {
    if (n == 4) return vld1q_f32(p);
    float t[4] = {0.f, 0.f, 0.f, 0.f};
    for (int64_t i = 0; i < n; ++i) t[i] = p[i];
    return vld1q_f32(t);
  }
  static void store(float* p, T v, int64_t n) {
    if (n == 4) return vst1q_f32(p, v);
    float t[4];
    vst1q_f32(t, v);
    for (int64_t i = 0; i < n; ++i) p[i] = t[i];
  }
  static T fma(T a, T b, T c) { return vfmaq_f32(c, a, b); }
  static T max(T a, T b) { return vmaxnmq_f32(a, b); }
  static T min(T a, T b) { return vminnmq_f32(a, b); }
};

}  // namespace

void dwconv_nhwc_neon(const DwNhwcParams& p, const float* x, const float* w, const float* bias, const ActParams& act,
                      float* y, int64_t oh0, int64_t oh1) {
  dwnhwc::rows<VNeon>(p, x, w, bias, act, y, oh0, oh1);
}

}  // namespace pyrt::kernels::arm
