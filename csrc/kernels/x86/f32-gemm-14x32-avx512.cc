// f32 GEMM microkernel for AVX-512F: MR x 32 tile (MR = PYRT_AVX512_MR), 2*MR zmm accumulators; per k two
// aligned 64-byte B loads and MR A broadcasts. Full-height tiles run an inline-asm hot loop (the accumulators
// use zmm0..zmm(2MR-1), B zmm30/31, the broadcasts zmm28/29); shorter edge tiles (mr < MR, e.g. batch-1
// Linear), tiles at most 16 columns wide (half the FMAs) and the unpacked-A entry (A read in place, for
// products whose A would be packed for one or two B panels only) run an intrinsics loop templated on the row
// count. Column edges (nr < 32) use opmask loads and
// stores. Every C element is one FMA chain over k in order: bit-identical to ref/f32-gemm-ref.cc.
#include <immintrin.h>

#include "kernels/activation.h"
#include "kernels/x86/x86.h"

// GCC 12 warns on the self-initialised _mm512_undefined_ps() inside _mm512_max_ps / _mm512_min_ps (a known
// false positive of its headers); nothing here reads an uninitialised value.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#ifndef PYRT_AVX512_MR
#define PYRT_AVX512_MR 14
#endif
#ifndef PYRT_AVX512_FN
#define PYRT_AVX512_FN f32_gemm_14x32_avx512
#define PYRT_AVX512_UA_FN f32_gemm_14x32_ua_avx512
#endif

namespace pyrt::kernels::x86 {
namespace {

constexpr int MR = PYRT_AVX512_MR, NR = 32;
static_assert(MR == 8 || MR == 12 || MR == 14, "the asm row lists cover 8, 12 or 14 rows (28 accumulators at most)");

inline __m512 activate(__m512 x, const GemmUkArgs& p) {
  switch (Act(p.act)) {
    case Act::kRelu:
      return _mm512_max_ps(x, _mm512_setzero_ps());
    case Act::kClip:
      return _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(p.p0)), _mm512_set1_ps(p.p1));
    case Act::kLeakyRelu: {
      const __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
      return _mm512_mask_mul_ps(x, neg, x, _mm512_set1_ps(p.p0));
    }
    default:
      return x;
  }
}

struct Masks {
  __mmask16 m0, m1;  // live lanes of the two 16-column halves
  bool full;
};

inline Masks masks(size_t nr) {
  Masks m;
  m.full = nr == size_t(NR);
  m.m0 = nr >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << nr) - 1);
  m.m1 = nr >= 32 ? __mmask16(0xFFFF) : nr > 16 ? __mmask16((1u << (nr - 16)) - 1) : __mmask16(0);
  return m;
}

template <int M>
inline void load_c(__m512 (*acc)[2], const float* c, size_t ldc, const Masks& m, uint32_t flags) {
  if (flags & kGemmLoadC) {
#pragma GCC unroll 14
    for (int r = 0; r < M; ++r) {
      const float* cr = c + r * ldc;
      acc[r][0] = m.full ? _mm512_loadu_ps(cr) : _mm512_maskz_loadu_ps(m.m0, cr);
      acc[r][1] = m.full ? _mm512_loadu_ps(cr + 16) : _mm512_maskz_loadu_ps(m.m1, cr + 16);
    }
  } else {
#pragma GCC unroll 14
    for (int r = 0; r < M; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  }
}

// Bias (kGemmFinal only), activation, masked store.
template <int M>
inline void finish(__m512 (*acc)[2], float* c, size_t ldc, const Masks& m, const GemmUkArgs& p) {
  if (p.flags & kGemmFinal) {
    if (p.bias_row) {
#pragma GCC unroll 14
      for (int r = 0; r < M; ++r) {
        const __m512 br = _mm512_set1_ps(p.bias_row[r]);
        acc[r][0] = _mm512_add_ps(acc[r][0], br);
        acc[r][1] = _mm512_add_ps(acc[r][1], br);
      }
    }
    if (p.bias_col) {
      const __m512 bc0 = m.full ? _mm512_loadu_ps(p.bias_col) : _mm512_maskz_loadu_ps(m.m0, p.bias_col);
      const __m512 bc1 = m.full ? _mm512_loadu_ps(p.bias_col + 16) : _mm512_maskz_loadu_ps(m.m1, p.bias_col + 16);
#pragma GCC unroll 14
      for (int r = 0; r < M; ++r) {
        acc[r][0] = _mm512_add_ps(acc[r][0], bc0);
        acc[r][1] = _mm512_add_ps(acc[r][1], bc1);
      }
    }
    if (p.act != uint8_t(Act::kNone)) {
#pragma GCC unroll 14
      for (int r = 0; r < M; ++r) {
        acc[r][0] = activate(acc[r][0], p);
        acc[r][1] = activate(acc[r][1], p);
      }
    }
  }
#pragma GCC unroll 14
  for (int r = 0; r < M; ++r) {
    float* cr = c + r * ldc;
    if (m.full) {
      _mm512_storeu_ps(cr, acc[r][0]);
      _mm512_storeu_ps(cr + 16, acc[r][1]);
    } else {
      _mm512_mask_storeu_ps(cr, m.m0, acc[r][0]);
      _mm512_mask_storeu_ps(cr + 16, m.m1, acc[r][1]);
    }
  }
}

// Intrinsics tiles: M rows (edge tiles below MR, and any tile with unpacked A) by H 16-column halves (H = 1
// when nr <= 16: half the FMAs of a 32-wide tile whose right half is padding). At most 28 accumulators +
// 2 B + 1 broadcast. kUA: A row-major in place (a[r*lda + k]), else the packed panel (a[k*MR + r]).
template <int M, int H, bool kUA>
void tile(size_t nr, size_t kc, const float* a, size_t lda, const float* b, float* c, size_t ldc,
          const GemmUkArgs& p) {
  const Masks m = masks(nr);
  __m512 acc[M][2];
  load_c<M>(acc, c, ldc, m, p.flags);
  for (size_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_load_ps(b), b1 = H == 2 ? _mm512_load_ps(b + 16) : b0;
#pragma GCC unroll 14
    for (int r = 0; r < M; ++r) {
      const __m512 av = _mm512_set1_ps(kUA ? a[size_t(r) * lda + k] : a[k * MR + size_t(r)]);
      acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
      if (H == 2) acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
    }
    b += NR;
  }
  finish<M>(acc, c, ldc, m, p);
}

template <int M, int H, bool kUA>
void edge(size_t mr, size_t nr, size_t kc, const float* a, size_t lda, const float* b, float* c, size_t ldc,
          const GemmUkArgs& p) {
  if constexpr (M > 1) {
    if (mr < size_t(M)) return edge<M - 1, H, kUA>(mr, nr, kc, a, lda, b, c, ldc, p);
  }
  tile<M, H, kUA>(nr, kc, a, lda, b, c, ldc, p);
}

// One k step of the full tile: KA / KB are the byte offsets of this step's A and B values.
#define PYRT_ROW(KA, r, t, c0, c1)                                       \
  "vbroadcastss " #KA "+4*" #r "(%[a]), %%zmm" #t "\n\t"                  \
  "vfmadd231ps %%zmm30, %%zmm" #t ", %%zmm" #c0 "\n\t"                   \
  "vfmadd231ps %%zmm31, %%zmm" #t ", %%zmm" #c1 "\n\t"
#define PYRT_ROWS_1_4(KA) \
  PYRT_ROW(KA, 0, 28, 0, 1) PYRT_ROW(KA, 1, 29, 2, 3) PYRT_ROW(KA, 2, 28, 4, 5) PYRT_ROW(KA, 3, 29, 6, 7)
#define PYRT_ROWS_5_8(KA) \
  PYRT_ROW(KA, 4, 28, 8, 9) PYRT_ROW(KA, 5, 29, 10, 11) PYRT_ROW(KA, 6, 28, 12, 13) PYRT_ROW(KA, 7, 29, 14, 15)
#if PYRT_AVX512_MR > 8
#define PYRT_ROWS_9_12(KA)                                                                      \
  PYRT_ROW(KA, 8, 28, 16, 17) PYRT_ROW(KA, 9, 29, 18, 19) PYRT_ROW(KA, 10, 28, 20, 21) \
  PYRT_ROW(KA, 11, 29, 22, 23)
#else
#define PYRT_ROWS_9_12(KA)
#endif
#if PYRT_AVX512_MR > 12
#define PYRT_ROWS_13_14(KA) PYRT_ROW(KA, 12, 28, 24, 25) PYRT_ROW(KA, 13, 29, 26, 27)
#else
#define PYRT_ROWS_13_14(KA)
#endif
#define PYRT_STEP(KA, KB)                                                   \
  "vmovaps " #KB "(%[b]), %%zmm30\n\t"                                      \
  "vmovaps " #KB "+64(%[b]), %%zmm31\n\t"                                   \
  PYRT_ROWS_1_4(KA) PYRT_ROWS_5_8(KA) PYRT_ROWS_9_12(KA) PYRT_ROWS_13_14(KA)

// Accumulators to / from the 64-byte aligned acc[MR][2] array.
#define PYRT_MOV_ROW(op, r, c0, c1)                          \
  op " " "128*" #r "(%[acc]), %%zmm" #c0 "\n\t"              \
  op " " "128*" #r "+64(%[acc]), %%zmm" #c1 "\n\t"
#define PYRT_ST_ROW(r, c0, c1)                               \
  "vmovaps %%zmm" #c0 ", 128*" #r "(%[acc])\n\t"             \
  "vmovaps %%zmm" #c1 ", 128*" #r "+64(%[acc])\n\t"

#define PYRT_MR_STR_(x) #x
#define PYRT_MR_STR(x) PYRT_MR_STR_(x)
#define PYRT_AB "4*" PYRT_MR_STR(PYRT_AVX512_MR)  // bytes of A per k step

void tile_full(size_t nr, size_t kc, const float* a, const float* b, float* c, size_t ldc, const GemmUkArgs& p) {
  const Masks m = masks(nr);
  // The driver walks tiles down a column of C: fetch the next tile's rows (C lives in L3 for large
  // products; this tile's rows were fetched by the previous call) while this one runs. No fault is possible.
#pragma GCC unroll 14
  for (int r = 0; r < MR; ++r) {
    const char* nx = reinterpret_cast<const char*>(c + (MR + r) * ldc);
    _mm_prefetch(nx, _MM_HINT_T0);
    _mm_prefetch(nx + 64, _MM_HINT_T0);
    _mm_prefetch(nx + 124, _MM_HINT_T0);
  }
  alignas(64) __m512 acc[MR][2];
  load_c<MR>(acc, c, ldc, m, p.flags);
  size_t n4 = kc / 4, n1 = kc % 4;
  // The driver's next B panel starts kc * NR floats on: bring it to L2 while this one runs (weights of a
  // layer come from L3 when they no longer fit L2; measured 67 -> see bench/RESULTS.md for a 49x1152x192
  // channels-last 1x1 conv with cold weights). Prefetches never fault past the end.
  const size_t next_panel = kc * NR * sizeof(float);
  __asm__ volatile(
      PYRT_MOV_ROW("vmovaps", 0, 0, 1) PYRT_MOV_ROW("vmovaps", 1, 2, 3) PYRT_MOV_ROW("vmovaps", 2, 4, 5)
      PYRT_MOV_ROW("vmovaps", 3, 6, 7)
#if PYRT_AVX512_MR > 4
      PYRT_MOV_ROW("vmovaps", 4, 8, 9) PYRT_MOV_ROW("vmovaps", 5, 10, 11) PYRT_MOV_ROW("vmovaps", 6, 12, 13)
      PYRT_MOV_ROW("vmovaps", 7, 14, 15)
#endif
#if PYRT_AVX512_MR > 8
      PYRT_MOV_ROW("vmovaps", 8, 16, 17) PYRT_MOV_ROW("vmovaps", 9, 18, 19) PYRT_MOV_ROW("vmovaps", 10, 20, 21)
      PYRT_MOV_ROW("vmovaps", 11, 22, 23)
#endif
#if PYRT_AVX512_MR > 12
      PYRT_MOV_ROW("vmovaps", 12, 24, 25) PYRT_MOV_ROW("vmovaps", 13, 26, 27)
#endif
      "testq %[n4], %[n4]\n\t"
      "jz 2f\n\t"
      ".p2align 5\n"
      "1:\n\t"
      "prefetcht0 16*" PYRT_AB "(%[a])\n\t"
      "prefetcht1 (%[b],%[nb])\n\t"
      "prefetcht1 64(%[b],%[nb])\n\t"
      PYRT_STEP(0, 0)
      "prefetcht0 16*" PYRT_AB "+64(%[a])\n\t"
      "prefetcht1 128(%[b],%[nb])\n\t"
      "prefetcht1 192(%[b],%[nb])\n\t"
      PYRT_STEP(1*4*PYRT_AVX512_MR, 128)
      "prefetcht0 16*" PYRT_AB "+128(%[a])\n\t"
      "prefetcht1 256(%[b],%[nb])\n\t"
      "prefetcht1 320(%[b],%[nb])\n\t"
      PYRT_STEP(2*4*PYRT_AVX512_MR, 256)
      "prefetcht0 16*" PYRT_AB "+192(%[a])\n\t"
      "prefetcht1 384(%[b],%[nb])\n\t"
      "prefetcht1 448(%[b],%[nb])\n\t"
      PYRT_STEP(3*4*PYRT_AVX512_MR, 384)
      "addq $4*" PYRT_AB ", %[a]\n\t"
      "addq $512, %[b]\n\t"
      "decq %[n4]\n\t"
      "jnz 1b\n"
      "2:\n\t"
      "testq %[n1], %[n1]\n\t"
      "jz 4f\n"
      "3:\n\t"
      PYRT_STEP(0, 0)
      "addq $" PYRT_AB ", %[a]\n\t"
      "addq $128, %[b]\n\t"
      "decq %[n1]\n\t"
      "jnz 3b\n"
      "4:\n\t"
      PYRT_ST_ROW(0, 0, 1) PYRT_ST_ROW(1, 2, 3) PYRT_ST_ROW(2, 4, 5) PYRT_ST_ROW(3, 6, 7)
#if PYRT_AVX512_MR > 4
      PYRT_ST_ROW(4, 8, 9) PYRT_ST_ROW(5, 10, 11) PYRT_ST_ROW(6, 12, 13) PYRT_ST_ROW(7, 14, 15)
#endif
#if PYRT_AVX512_MR > 8
      PYRT_ST_ROW(8, 16, 17) PYRT_ST_ROW(9, 18, 19) PYRT_ST_ROW(10, 20, 21) PYRT_ST_ROW(11, 22, 23)
#endif
#if PYRT_AVX512_MR > 12
      PYRT_ST_ROW(12, 24, 25) PYRT_ST_ROW(13, 26, 27)
#endif
      : [a] "+r"(a), [b] "+r"(b), [n4] "+r"(n4), [n1] "+r"(n1)
      : [acc] "r"(&acc[0][0]), [nb] "r"(next_panel)
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",
        "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24",
        "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31", "cc", "memory");
  finish<MR>(acc, c, ldc, m, p);
}

}  // namespace

void PYRT_AVX512_FN(size_t mr, size_t nr, size_t kc, const float* a, const float* b, float* c, size_t ldc,
                    const GemmUkArgs& p) {
  if (nr <= 16) return edge<MR, 1, false>(mr, nr, kc, a, 0, b, c, ldc, p);
  if (mr >= size_t(MR)) return tile_full(nr, kc, a, b, c, ldc, p);
  return edge<MR - 1, 2, false>(mr, nr, kc, a, 0, b, c, ldc, p);
}

void PYRT_AVX512_UA_FN(size_t mr, size_t nr, size_t kc, const float* a, size_t lda, const float* b, float* c,
                       size_t ldc, const GemmUkArgs& p) {
  if (nr <= 16) return edge<MR, 1, true>(mr, nr, kc, a, lda, b, c, ldc, p);
  return edge<MR, 2, true>(mr, nr, kc, a, lda, b, c, ldc, p);
}

}  // namespace pyrt::kernels::x86
