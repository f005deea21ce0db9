// NHWC depthwise convolution with AVX-512F: 16 channels a vector, masked channel tails (kernels/dwconv_nhwc.h).
#include <immintrin.h>

#include "kernels/dwconv_nhwc.h"
#include "kernels/x86/x86.h"

namespace pyrt::kernels::x86 {
namespace {

struct V512 {
  using T = __m512;
  static constexpr int64_t kLanes = 16;
  static constexpr int kP = 4, kQ = 4;  // 16 accumulators
  static __mmask16 mask(int64_t n) { return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1); }
  static T zero() { return _mm512_setzero_ps(); }
  static T set1(float f) { return _mm512_set1_ps(f); }
  static T load(const float* p, int64_t n) { return n == 16 ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(mask(n), p); }
  static void store(float* p, T v, int64_t n) {
    if (n == 16) _mm512_storeu_ps(p, v);
    else _mm512_mask_storeu_ps(p, mask(n), v);
  }
  static T fma(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
  static T max(T a, T b) { return _mm512_max_ps(a, b); }
  static T min(T a, T b) { return _mm512_min_ps(a, b); }
};

}  // namespace

void dwconv_nhwc_avx512(const DwNhwcParams& p, const float* x, const float* w, const float* bias,
                        const ActParams& act, float* y, int64_t oh0, int64_t oh1) {
  dwnhwc::rows<V512>(p, x, w, bias, act, y, oh0, oh1);
}

}  // namespace pyrt::kernels::x86
