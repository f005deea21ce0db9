// Rows quantized each with its own parameters, and the int8-weights GEMM's rows finished (see QuantizeRowsU8Fn
// and FinishRowsFn), with AVX2 + FMA: the reference's float operations lane by lane (exact min / max, a true
// division, vcvtps2dq rounding to nearest even, the same two fmas), so results are bit-identical. Tails are
// loaded masked: the zeros of the masked lanes change neither min(x, 0) nor max(x, 0).
#include <immintrin.h>

#include <cstring>

#include "kernels/ref/ref.h"
#include "kernels/x86/x86.h"

namespace pyrt::kernels::x86 {
namespace {

inline __m256i tail_mask(size_t n) {  // the first n (< 8) lanes
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int32_t(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

inline float hmin(__m256 v) {
  __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_min_ps(m, _mm_movehl_ps(m, m));
  return _mm_cvtss_f32(_mm_min_ss(m, _mm_movehdup_ps(m)));
}

inline float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
}

}  // namespace

void quantize_rows_u8_avx2(const float* x, size_t m, size_t k, size_t ldx, uint8_t* y, size_t ldy, QParams* q) {
  const size_t full = k / 8 * 8;
  const __m256i mask = tail_mask(k - full);
  for (size_t r = 0; r < m; ++r) {
    const float* xr = x + r * ldx;
    // vminps / vmaxps return the 2nd operand when the 1st is NaN: NaN ignored, as in the reference
    __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps(), nf = _mm256_setzero_ps();
    const __m256 zero = _mm256_setzero_ps();
    for (size_t i = 0; i < full; i += 8) {
      const __m256 v = _mm256_loadu_ps(xr + i);
      lo = _mm256_min_ps(v, lo), hi = _mm256_max_ps(v, hi);
      nf = _mm256_add_ps(nf, _mm256_mul_ps(v, zero));  // NaN once a NaN or an infinity was seen
    }
    if (full < k) {
      const __m256 v = _mm256_maskload_ps(xr + full, mask);
      lo = _mm256_min_ps(v, lo), hi = _mm256_max_ps(v, hi);
      nf = _mm256_add_ps(nf, _mm256_mul_ps(v, zero));
    }
    const bool finite = _mm256_movemask_ps(_mm256_cmp_ps(nf, nf, _CMP_UNORD_Q)) == 0;
    q[r] = row_qparams(hmin(lo), hmax(hi), finite);
    const __m256 s = _mm256_set1_ps(q[r].scale), vlo = _mm256_set1_ps(float(-q[r].zp)),
                 vhi = _mm256_set1_ps(float(255 - q[r].zp));
    const __m256i zp = _mm256_set1_epi32(q[r].zp);
    uint8_t* yr = y + r * ldy;
    auto one = [&](__m256 v) {  // 8 lanes -> 8 int32 in [0, 255]
      return _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(_mm256_div_ps(v, s), vlo), vhi)), zp);
    };
    auto store8 = [](uint8_t* p, __m256i v, size_t n) {
      const __m128i w = _mm_packus_epi16(_mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1)),
                                         _mm_setzero_si128());
      uint8_t b[16];
      _mm_storeu_si128(reinterpret_cast<__m128i*>(b), w);
      std::memcpy(p, b, n);
    };
    for (size_t i = 0; i < full; i += 8) store8(yr + i, one(_mm256_loadu_ps(xr + i)), 8);
    if (full < k) store8(yr + full, one(_mm256_maskload_ps(xr + full, mask)), k - full);
    std::memset(yr + k, 0, ldy - k);
  }
}

void finish_rows_avx2(float* y, size_t m, size_t n, size_t ldy, const QParams* q, int32_t zfold, const float* wsum,
                      const float* bias, float lo, float hi) {
  const size_t full = n / 8 * 8;
  const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  for (size_t r = 0; r < m; ++r) {
    float* yr = y + r * ldy;
    const __m256 dz = _mm256_set1_ps(float(zfold - q[r].zp)), s = _mm256_set1_ps(q[r].scale);
    for (size_t c = 0; c < full; c += 8) {
      const __m256 b = bias ? _mm256_loadu_ps(bias + c) : _mm256_setzero_ps();
      const __m256 v = _mm256_fmadd_ps(_mm256_fmadd_ps(dz, _mm256_loadu_ps(wsum + c), _mm256_loadu_ps(yr + c)), s, b);
      // max(lo, v) / min(hi, v) return v when either is NaN: v < lo ? lo : v > hi ? hi : v, as the reference
      _mm256_storeu_ps(yr + c, _mm256_min_ps(vhi, _mm256_max_ps(vlo, v)));
    }
    if (full < n) ref::finish_rows(yr + full, 1, n - full, ldy, q + r, zfold, wsum + full, bias ? bias + full : nullptr,
                                   lo, hi);
  }
}

}  // namespace pyrt::kernels::x86
