// u8 x s8 GEMM with AVX2, 6x16 tile, exact: vpmaddwd on int16 pairs (vpmaddubsw would saturate u8 x s8 pair sums
// in int16). 12 accumulators + 2 B vectors + 1 A broadcast + 1 product = the 16 ymm registers.
// B panels hold groups of 2 k's (16 columns x 2 bytes), sign-extended to int16 in the loop; each row's A bytes
// are first zero-extended into a small int16 stack buffer, so that a (a[k], a[k+1]) pair is one vpbroadcastd
// from memory (a load, no shuffle port) per row and k pair.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/x86/x86.h"

namespace pyrt::kernels::x86 {
namespace {

constexpr size_t kMR = 6, kNR = 16, kKC = 256;  // kKC: k's per A chunk (6 rows x 512 bytes of int16, in L1)

inline int32_t load_pair(const int16_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// kc bytes of one A row -> int16, rounded up to a multiple of 16 with zeros (never reads past kc bytes).
inline void widen_row(const uint8_t* a, size_t kc, int16_t* out) {
  size_t t = 0;
  for (; t + 16 <= kc; t += 16)
    _mm256_store_si256(reinterpret_cast<__m256i*>(out + t),
                       _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + t))));
  if (t < kc) {  // fixed-size copies: no memcpy call (it would make every accumulator spill around it)
    alignas(16) uint8_t tmp[16] = {};
    const size_t n = kc - t;
    size_t o = 0;
    if (n & 8) std::memcpy(tmp + o, a + t + o, 8), o += 8;
    if (n & 4) std::memcpy(tmp + o, a + t + o, 4), o += 4;
    if (n & 2) std::memcpy(tmp + o, a + t + o, 2), o += 2;
    if (n & 1) tmp[o] = a[t + o];
    _mm256_store_si256(reinterpret_cast<__m256i*>(out + t),
                       _mm256_cvtepu8_epi16(_mm_load_si128(reinterpret_cast<const __m128i*>(tmp))));
  }
}

// Lanes j < n set (maskload / maskstore of the partial panel's 32-bit columns).
inline __m256i lanes(size_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

template <int R>
void tile(size_t nr, size_t k, const uint8_t* a, size_t lda, const int8_t* b, const int32_t* bias,
          const float* scale, const QRequant& rq, void* c, size_t ldc) {
  // The bias through a copy, not lane masks: masks live across the loop would take 2 of the 16 registers.
  alignas(32) int32_t bbuf[kNR] = {};
  std::memcpy(bbuf, bias, nr * sizeof(int32_t));
  const __m256i b0v = _mm256_load_si256(reinterpret_cast<const __m256i*>(bbuf));
  const __m256i b1v = _mm256_load_si256(reinterpret_cast<const __m256i*>(bbuf + 8));
  __m256i acc0[R], acc1[R];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) acc0[r] = b0v, acc1[r] = b1v;
  alignas(32) int16_t abuf[R][kKC];
  for (size_t k0 = 0; k0 < k; k0 += kKC) {
    const size_t kc = std::min(kKC, k - k0), pairs = (kc + 1) / 2;
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) widen_row(a + size_t(r) * lda + k0, kc, abuf[r]);
    for (size_t p = 0; p < pairs; ++p, b += 2 * kNR) {
      const __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b)));
      const __m256i w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 16)));
#pragma GCC unroll 6
      for (int r = 0; r < R; ++r) {
        const __m256i x = _mm256_set1_epi32(load_pair(abuf[r] + 2 * p));
        acc0[r] = _mm256_add_epi32(acc0[r], _mm256_madd_epi16(x, w0));
        acc1[r] = _mm256_add_epi32(acc1[r], _mm256_madd_epi16(x, w1));
      }
    }
  }
  const __m256i m0 = lanes(std::min<size_t>(nr, 8)), m1 = lanes(nr > 8 ? nr - 8 : 0);
  const __m256 s0 = _mm256_castsi256_ps(_mm256_maskload_epi32(reinterpret_cast<const int*>(scale), m0));
  const __m256 s1 = _mm256_castsi256_ps(_mm256_maskload_epi32(reinterpret_cast<const int*>(scale + 8), m1));
  if (rq.f32_out) {
    float* cf = static_cast<float*>(c);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      _mm256_maskstore_ps(cf + r * ldc, m0, _mm256_mul_ps(_mm256_cvtepi32_ps(acc0[r]), s0));
      _mm256_maskstore_ps(cf + r * ldc + 8, m1, _mm256_mul_ps(_mm256_cvtepi32_ps(acc1[r]), s1));
    }
    return;
  }
  const __m256 lo = _mm256_set1_ps(rq.lo), hi = _mm256_set1_ps(rq.hi);
  const __m256i zp = _mm256_set1_epi32(rq.zp);
  // vcvtps2dq rounds to nearest even (the MXCSR default), as round_even does for these |v| <= 255.
  auto requant = [&](__m256i acc, __m256 s) {
    const __m256 v = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(acc), s), lo), hi);
    return _mm256_add_epi32(_mm256_cvtps_epi32(v), zp);
  };
  uint8_t* cu = static_cast<uint8_t*>(c);
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    // packs interleaves the 128-bit lanes: [0-3 8-11 4-7 12-15] -> vpermq restores the column order.
    const __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(requant(acc0[r], s0), requant(acc1[r], s1)), 0xD8);
    const __m128i u = _mm_packus_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
    if (nr == kNR) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(cu + r * ldc), u);
    } else {
      alignas(16) uint8_t tmp[16];
      _mm_store_si128(reinterpret_cast<__m128i*>(tmp), u);
      std::memcpy(cu + r * ldc, tmp, nr);
    }
  }
}

}  // namespace

void qgemm_6x16c2_avx2(size_t mr, size_t nr, size_t k, const uint8_t* a, size_t lda, const int8_t* b,
                       const int32_t* bias, const float* scale, const QRequant& rq, void* c, size_t ldc) {
  static_assert(kMR >= 1 && kMR <= 6, "rows handled below");
  switch (std::min(mr, kMR)) {
#define PYRT_ROWS(R) \
  case R:            \
    return tile<R>(nr, k, a, lda, b, bias, scale, rq, c, ldc);
    PYRT_ROWS(1) PYRT_ROWS(2) PYRT_ROWS(3) PYRT_ROWS(4) PYRT_ROWS(5) PYRT_ROWS(6)
#undef PYRT_ROWS
    default:
      return;
  }
}

}  // namespace pyrt::kernels::x86
