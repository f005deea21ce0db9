// NHWC depthwise convolution with AVX2 + FMA: 8 channels a vector, maskload/maskstore for channel tails
// (kernels/dwconv_nhwc.h).
#include <immintrin.h>

#include "kernels/dwconv_nhwc.h"
#include "kernels/x86/x86.h"

namespace pyrt::kernels::x86 {
namespace {

struct V256 {
  using T = __m256;
  static constexpr int64_t kLanes = 8;
  static constexpr int kP = 4, kQ = 2;  // 8 accumulators
  static __m256i mask(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static T zero() { return _mm256_setzero_ps(); }
  static T set1(float f) { return _mm256_set1_ps(f); }
  static T load(const float* p, int64_t n) { return n == 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, mask(n)); }
  static void store(float* p, T v, int64_t n) {
    if (n == 8) _mm256_storeu_ps(p, v);
    else _mm256_maskstore_ps(p, mask(n), v);
  }
  static T fma(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
  static T max(T a, T b) { return _mm256_max_ps(a, b); }
  static T min(T a, T b) { return _mm256_min_ps(a, b); }
};

}  // namespace

void dwconv_nhwc_avx2(const DwNhwcParams& p, const float* x, const float* w, const float* bias, const ActParams& act,
                      float* y, int64_t oh0, int64_t oh1) {
  dwnhwc::rows<V256>(p, x, w, bias, act, y, oh0, oh1);
}

}  // namespace pyrt::kernels::x86
