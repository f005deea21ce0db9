// u8 quantize / dequantize / quantized Add with AVX2 + FMA: the reference's float operations lane by lane (a true
// division, std::fma as vfmadd, vcvtps2dq rounding to nearest even), so results are bit-identical; tails go to
// the reference itself.
#include <immintrin.h>

#include "kernels/ref/ref.h"
#include "kernels/x86/x86.h"

namespace pyrt::kernels::x86 {
namespace {

// 32 int32 lanes in [0, 255] -> 32 bytes in order (the packs work within 128-bit lanes; vpermd undoes that).
inline __m256i pack32(__m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i u = _mm256_packus_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
  return _mm256_permutevar8x32_epi32(u, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

inline __m256i load8_u8(const uint8_t* p) {
  return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
}

}  // namespace

void quantize_u8_avx2(const float* x, size_t n, QParams q, uint8_t* y) {
  const __m256 s = _mm256_set1_ps(q.scale), lo = _mm256_set1_ps(float(-q.zp)), hi = _mm256_set1_ps(float(255 - q.zp));
  const __m256i zp = _mm256_set1_epi32(q.zp);
  auto one = [&](const float* p) {
    // vmaxps returns its 2nd operand when the 1st is NaN: NaN -> lo, as the reference's !(v >= lo)
    const __m256 v = _mm256_min_ps(_mm256_max_ps(_mm256_div_ps(_mm256_loadu_ps(p), s), lo), hi);
    return _mm256_add_epi32(_mm256_cvtps_epi32(v), zp);
  };
  size_t i = 0;
  for (; i + 32 <= n; i += 32)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i),
                        pack32(one(x + i), one(x + i + 8), one(x + i + 16), one(x + i + 24)));
  ref::quantize_u8(x + i, n - i, q, y + i);
}

void dequantize_u8_avx2(const uint8_t* x, size_t n, QParams q, float* y) {
  const __m256 s = _mm256_set1_ps(q.scale);
  const __m256i zp = _mm256_set1_epi32(q.zp);
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(load8_u8(x + i), zp)), s));
  ref::dequantize_u8(x + i, n - i, q, y + i);
}

void qadd_u8_avx2(const uint8_t* a, size_t as, const uint8_t* b, size_t bs, const QAddParams& p, uint8_t* y,
                  size_t n) {
  if ((as != 0 && as != 1) || (bs != 0 && bs != 1)) return ref::qadd_u8(a, as, b, bs, p, y, n);
  const __m256 ma = _mm256_set1_ps(p.ma), mb = _mm256_set1_ps(p.mb);
  const __m256 lo = _mm256_set1_ps(p.rq.lo), hi = _mm256_set1_ps(p.rq.hi);
  const __m256i za = _mm256_set1_epi32(p.za), zb = _mm256_set1_epi32(p.zb), zy = _mm256_set1_epi32(p.rq.zp);
  // step 0: every lane reads the one scalar
  auto load = [](const uint8_t* q, size_t step) { return step ? load8_u8(q) : _mm256_set1_epi32(*q); };
  auto one = [&](size_t i) {
    const __m256 fa = _mm256_cvtepi32_ps(_mm256_sub_epi32(load(a + i * as, as), za));
    const __m256 fb = _mm256_cvtepi32_ps(_mm256_sub_epi32(load(b + i * bs, bs), zb));
    const __m256 v = _mm256_fmadd_ps(fb, mb, _mm256_mul_ps(fa, ma));  // = std::fma(fb, mb, fa * ma)
    return _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(v, lo), hi)), zy);
  };
  size_t i = 0;
  for (; i + 32 <= n; i += 32)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), pack32(one(i), one(i + 8), one(i + 16), one(i + 24)));
  ref::qadd_u8(a + i * as, as, b + i * bs, bs, p, y + i, n - i);
}

}  // namespace pyrt::kernels::x86
