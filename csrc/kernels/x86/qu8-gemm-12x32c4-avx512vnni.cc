// u8 x s8 GEMM, 12x32 tile, groups of 4 k's (vpdpbusd: four u8 x s8 products summed into each int32 lane,
// without the int16 saturation of vpmaddubsw, so the sums are exact). Per group: two 64-byte B loads, then a
// broadcast of each row's 4 A bytes and two vpdpbusd into its 2 x 16 int32 accumulators (24 of the 32 zmm).
// Full 12-row tiles run an inline-asm hot loop (GCC keeps 24 accumulators of an intrinsics loop in registers
// only with spills, at half the speed; the f32 kernel does the same); edge tiles use intrinsics.
#include <immintrin.h>

#include <cstring>

#include "kernels/x86/x86.h"

namespace pyrt::kernels::x86 {
namespace {

inline uint32_t load4(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Accumulators zmm0-23 (row r: 2r, 2r+1), B zmm30/31, broadcasts zmm28/29. Rows are addressed from four
// bases p0, p3, p6, p9 (rows 0, 3, 6, 9) plus 0, 1 or 2 row strides.
#define PYRT_QROW(KA, base, idx, t, c0, c1)                     \
  "vpbroadcastd " #KA "(%[" base "]" idx "), %%zmm" #t "\n\t" \
  "vpdpbusd %%zmm30, %%zmm" #t ", %%zmm" #c0 "\n\t"            \
  "vpdpbusd %%zmm31, %%zmm" #t ", %%zmm" #c1 "\n\t"
#define PYRT_QSTEP(KA, KB)                                                                                   \
  "vmovdqa64 " #KB "(%[b]), %%zmm30\n\t"                                                                   \
  "vmovdqa64 " #KB "+64(%[b]), %%zmm31\n\t"                                                                \
  PYRT_QROW(KA, "p0", "", 28, 0, 1) PYRT_QROW(KA, "p0", ",%[l],1", 29, 2, 3) PYRT_QROW(KA, "p0", ",%[l],2", 28, 4, 5) \
  PYRT_QROW(KA, "p3", "", 29, 6, 7) PYRT_QROW(KA, "p3", ",%[l],1", 28, 8, 9) PYRT_QROW(KA, "p3", ",%[l],2", 29, 10, 11) \
  PYRT_QROW(KA, "p6", "", 28, 12, 13) PYRT_QROW(KA, "p6", ",%[l],1", 29, 14, 15)                              \
  PYRT_QROW(KA, "p6", ",%[l],2", 28, 16, 17) PYRT_QROW(KA, "p9", "", 29, 18, 19)                              \
  PYRT_QROW(KA, "p9", ",%[l],1", 28, 20, 21) PYRT_QROW(KA, "p9", ",%[l],2", 29, 22, 23)

// acc[12][2] (64-byte aligned) += A[12 rows][0, k4 * 4) . B, B advanced past those groups.
void hot_loop_12(__m512i (*acc)[2], const uint8_t* a, size_t lda, const int8_t*& b, size_t k4) {
  const uint8_t *p0 = a, *p3 = a + 3 * lda, *p6 = a + 6 * lda, *p9 = a + 9 * lda;
  size_t n4 = k4 / 4, n1 = k4 % 4;
  const int8_t* bp = b;
  __asm__ volatile(
#define PYRT_LD(r, c0, c1) "vmovdqa64 128*" #r "(%[acc]), %%zmm" #c0 "\n\t vmovdqa64 128*" #r "+64(%[acc]), %%zmm" #c1 "\n\t"
      PYRT_LD(0, 0, 1) PYRT_LD(1, 2, 3) PYRT_LD(2, 4, 5) PYRT_LD(3, 6, 7) PYRT_LD(4, 8, 9) PYRT_LD(5, 10, 11)
      PYRT_LD(6, 12, 13) PYRT_LD(7, 14, 15) PYRT_LD(8, 16, 17) PYRT_LD(9, 18, 19) PYRT_LD(10, 20, 21)
      PYRT_LD(11, 22, 23)
      "testq %[n4], %[n4]\n\t"
      "jz 2f\n\t"
      ".p2align 5\n"
      "1:\n\t"
      PYRT_QSTEP(0, 0) PYRT_QSTEP(4, 128) PYRT_QSTEP(8, 256) PYRT_QSTEP(12, 384)
      "addq $16, %[p0]\n\t addq $16, %[p3]\n\t addq $16, %[p6]\n\t addq $16, %[p9]\n\t"
      "addq $512, %[b]\n\t"
      "decq %[n4]\n\t"
      "jnz 1b\n"
      "2:\n\t"
      "testq %[n1], %[n1]\n\t"
      "jz 4f\n"
      "3:\n\t"
      PYRT_QSTEP(0, 0)
      "addq $4, %[p0]\n\t addq $4, %[p3]\n\t addq $4, %[p6]\n\t addq $4, %[p9]\n\t"
      "addq $128, %[b]\n\t"
      "decq %[n1]\n\t"
      "jnz 3b\n"
      "4:\n\t"
#define PYRT_ST(r, c0, c1) "vmovdqa64 %%zmm" #c0 ", 128*" #r "(%[acc])\n\t vmovdqa64 %%zmm" #c1 ", 128*" #r "+64(%[acc])\n\t"
      PYRT_ST(0, 0, 1) PYRT_ST(1, 2, 3) PYRT_ST(2, 4, 5) PYRT_ST(3, 6, 7) PYRT_ST(4, 8, 9) PYRT_ST(5, 10, 11)
      PYRT_ST(6, 12, 13) PYRT_ST(7, 14, 15) PYRT_ST(8, 16, 17) PYRT_ST(9, 18, 19) PYRT_ST(10, 20, 21)
      PYRT_ST(11, 22, 23)
#undef PYRT_LD
#undef PYRT_ST
      : [p0] "+r"(p0), [p3] "+r"(p3), [p6] "+r"(p6), [p9] "+r"(p9), [b] "+r"(bp), [n4] "+r"(n4), [n1] "+r"(n1)
      : [l] "r"(lda), [acc] "r"(acc)
      : "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22",
        "xmm23", "xmm28", "xmm29", "xmm30", "xmm31");
  b = bp;
}

// Requantizes R rows of accumulators (memory, 64-byte aligned) and stores them.
template <int R>
void finish(const __m512i (*acc)[2], size_t nr, const float* scale, const QRequant& rq, void* c, size_t ldc) {
  const __mmask16 m0 = nr >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << nr) - 1);
  const __mmask16 m1 = nr <= 16 ? __mmask16(0) : nr >= 32 ? __mmask16(0xFFFF) : __mmask16((1u << (nr - 16)) - 1);
  const __m512 s0 = _mm512_maskz_loadu_ps(m0, scale), s1 = _mm512_maskz_loadu_ps(m1, scale + 16);
  if (rq.f32_out) {
    float* cf = static_cast<float*>(c);
    for (int r = 0; r < R; ++r) {
      _mm512_mask_storeu_ps(cf + r * ldc, m0, _mm512_mul_ps(_mm512_cvtepi32_ps(acc[r][0]), s0));
      _mm512_mask_storeu_ps(cf + r * ldc + 16, m1, _mm512_mul_ps(_mm512_cvtepi32_ps(acc[r][1]), s1));
    }
    return;
  }
  const __m512 lo = _mm512_set1_ps(rq.lo), hi = _mm512_set1_ps(rq.hi);
  const __m512i zp = _mm512_set1_epi32(rq.zp);
  uint8_t* cu = static_cast<uint8_t*>(c);
  auto requant = [&](__m512i a, __m512 s) {
    const __m512 v = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(a), s), lo), hi);
    return _mm512_cvtepi32_epi8(_mm512_add_epi32(_mm512_cvtps_epi32(v), zp));  // in [0, 255]: vpmovdb is exact
  };
  int r0 = 0;
  if (nr == 32 && rq.lo == -float(rq.zp) && rq.hi == float(255 - rq.zp)) {
    // The clamp is the u8 range itself (no fused activation narrower than it): saturating packs clamp, two
    // rows at a time. Exact: rounding first then saturating equals clamping first (the bounds are integers);
    // the min keeps vcvtps2dq's out-of-range result (INT_MIN) to values below the range.
    const __m512 big = _mm512_set1_ps(1e9f);
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    auto q32 = [&](__m512i a, __m512 s) {
      return _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_min_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(a), s), big)), zp);
    };
    for (; r0 + 2 <= R; r0 += 2) {
      const __m512i a = _mm512_packs_epi32(q32(acc[r0][0], s0), q32(acc[r0][1], s1));
      const __m512i b = _mm512_packs_epi32(q32(acc[r0 + 1][0], s0), q32(acc[r0 + 1][1], s1));
      const __m512i q = _mm512_permutexvar_epi32(order, _mm512_packus_epi16(a, b));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(cu + r0 * ldc), _mm512_castsi512_si256(q));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(cu + (r0 + 1) * ldc), _mm512_extracti64x4_epi64(q, 1));
    }
  }
  if (nr == 32) {  // plain stores: masked ones cost more on some cores
    for (int r = r0; r < R; ++r) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(cu + r * ldc), requant(acc[r][0], s0));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(cu + r * ldc + 16), requant(acc[r][1], s1));
    }
    return;
  }
  for (int r = 0; r < R; ++r) {
    _mm_mask_storeu_epi8(cu + r * ldc, m0, requant(acc[r][0], s0));
    if (nr > 16) _mm_mask_storeu_epi8(cu + r * ldc + 16, m1, requant(acc[r][1], s1));
  }
}

template <int R>
void tile(size_t nr, size_t k, const uint8_t* a, size_t lda, const int8_t* b, const int32_t* bias,
          const float* scale, const QRequant& rq, void* c, size_t ldc) {
  const __mmask16 m0 = nr >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << nr) - 1);
  const __mmask16 m1 = nr <= 16 ? __mmask16(0) : nr >= 32 ? __mmask16(0xFFFF) : __mmask16((1u << (nr - 16)) - 1);
  const __m512i b0v = _mm512_maskz_loadu_epi32(m0, bias), b1v = _mm512_maskz_loadu_epi32(m1, bias + 16);
  alignas(64) __m512i acc[R][2];
  size_t kk = k / 4 * 4;
  if constexpr (R == 12) {
    for (int r = 0; r < R; ++r) acc[r][0] = b0v, acc[r][1] = b1v;
    hot_loop_12(acc, a, lda, b, k / 4);
  } else {
    __m512i acc0[R], acc1[R];
#pragma GCC unroll 12
    for (int r = 0; r < R; ++r) acc0[r] = b0v, acc1[r] = b1v;
    for (size_t q = 0; q < kk; q += 4, b += 128) {
      const __m512i w0 = _mm512_load_si512(b), w1 = _mm512_load_si512(b + 64);
#pragma GCC unroll 12
      for (int r = 0; r < R; ++r) {
        const __m512i x = _mm512_set1_epi32(int(load4(a + r * lda + q)));
        acc0[r] = _mm512_dpbusd_epi32(acc0[r], x, w0);
        acc1[r] = _mm512_dpbusd_epi32(acc1[r], x, w1);
      }
    }
#pragma GCC unroll 12
    for (int r = 0; r < R; ++r) acc[r][0] = acc0[r], acc[r][1] = acc1[r];
  }
  if (kk < k) {  // the last 1-3 k's: never read past a row (B is zero there)
    const __m512i w0 = _mm512_load_si512(b), w1 = _mm512_load_si512(b + 64);
    for (int r = 0; r < R; ++r) {
      uint32_t v = 0;
      std::memcpy(&v, a + r * lda + kk, k - kk);
      const __m512i x = _mm512_set1_epi32(int(v));
      acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], x, w0);
      acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], x, w1);
    }
  }
  finish<R>(acc, nr, scale, rq, c, ldc);
}

}  // namespace

void qgemm_12x32c4_avx512vnni(size_t mr, size_t nr, size_t k, const uint8_t* a, size_t lda, const int8_t* b,
                              const int32_t* bias, const float* scale, const QRequant& rq, void* c, size_t ldc) {
  switch (mr) {
#define PYRT_ROWS(R) \
  case R:            \
    return tile<R>(nr, k, a, lda, b, bias, scale, rq, c, ldc);
    PYRT_ROWS(1) PYRT_ROWS(2) PYRT_ROWS(3) PYRT_ROWS(4) PYRT_ROWS(5) PYRT_ROWS(6)
    PYRT_ROWS(7) PYRT_ROWS(8) PYRT_ROWS(9) PYRT_ROWS(10) PYRT_ROWS(11) PYRT_ROWS(12)
#undef PYRT_ROWS
    default:
      return;
  }
}

}  // namespace pyrt::kernels::x86
