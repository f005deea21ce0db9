// Depthwise convolution of one channel with NEON, 8 output columns per step (two q registers). Same scheme as
// the AVX2 kernel: a zero-padded, stride-phase-split copy of the channel makes every tap a contiguous load;
// taps accumulate in (i, j) order with fused multiply-adds, bit-identical to kernels/ref/f32-dwconv-ref.cc.
#include <arm_neon.h>

#include <cmath>
#include <cstring>

#include "kernels/arm/arm.h"
#include "kernels/dwconv_plane.h"

namespace pyrt::kernels::arm {
using namespace dwplane;

void dwconv_neon(const DwConvParams& p, const float* x, const float* w, float bias, float* y, float* scratch) {
  const int64_t s = p.sw, qw = (padded_w(p) + s - 1) / s + 16;  // phase row width, with slack
  fill(p, x, qw, padded_h(p) * s * qw, scratch);
  const int64_t taps = p.kh * p.kw;
  int64_t tap_stack[64];
  int64_t* tap = taps <= 64 ? tap_stack : new int64_t[size_t(taps)];
  tap_offsets(p, qw, tap);
  const float32x4_t vb = vdupq_n_f32(bias);
  for (int64_t oh = 0; oh < p.oh; ++oh) {
    float* yr = y + oh * p.ow;
    const float* plane = scratch + oh * p.sh * s * qw;
    int64_t ow = 0;
    for (; ow + 8 <= p.ow; ow += 8) {
      float32x4_t a0 = vb, a1 = vb;
      for (int64_t k = 0; k < taps; ++k) {
        const float32x4_t wk = vdupq_n_f32(w[k]);
        const float* src = plane + tap[k] + ow;
        a0 = vfmaq_f32(a0, wk, vld1q_f32(src));
        a1 = vfmaq_f32(a1, wk, vld1q_f32(src + 4));
      }
      vst1q_f32(yr + ow, a0);
      vst1q_f32(yr + ow + 4, a1);
    }
    for (; ow < p.ow; ++ow) {
      float acc = bias;
      for (int64_t k = 0; k < taps; ++k) acc = std::fma(w[k], plane[tap[k] + ow], acc);
      yr[ow] = acc;
    }
  }
  if (tap != tap_stack) delete[] tap;
}

}  // namespace pyrt::kernels::arm
