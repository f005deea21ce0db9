// f32 GEMM microkernel for AVX2 + FMA: 6x16 tile, 12 ymm accumulators, per k two aligned B loads and six A
// broadcasts. Templated on the row count so that edge tiles (mr < 6, e.g. batch-1 Linear) run only the FMAs
// they need; column edges (nr < 16) use masked loads/stores. Bit-identical to ref/f32-gemm-ref.cc.
#include <immintrin.h>

#include "kernels/activation.h"
#include "kernels/x86/x86.h"

namespace pyrt::kernels::x86 {
namespace {

constexpr int MR = 6, NR = 16;

inline __m256 activate(__m256 x, const GemmUkArgs& p) {
  switch (Act(p.act)) {
    case Act::kRelu:
      return _mm256_max_ps(x, _mm256_setzero_ps());
    case Act::kClip:
      return _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(p.p0)), _mm256_set1_ps(p.p1));
    case Act::kLeakyRelu: {
      const __m256 neg = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
      return _mm256_blendv_ps(x, _mm256_mul_ps(x, _mm256_set1_ps(p.p0)), neg);
    }
    default:
      return x;
  }
}

template <int M>
void tile(size_t nr, size_t kc, const float* a, const float* b, float* c, size_t ldc, const GemmUkArgs& p) {
  __m256 acc[M][2];
  const bool full = nr == NR;
  // Lane masks for a partial tile: lane j of half h is live when 8h + j < nr.
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(nr)), iota);
  const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(nr) - 8), iota);

  if (p.flags & kGemmLoadC) {
#pragma GCC unroll 6
    for (int r = 0; r < M; ++r) {
      const float* cr = c + r * ldc;
      acc[r][0] = full ? _mm256_loadu_ps(cr) : _mm256_maskload_ps(cr, m0);
      acc[r][1] = full ? _mm256_loadu_ps(cr + 8) : _mm256_maskload_ps(cr + 8, m1);
    }
  } else {
#pragma GCC unroll 6
    for (int r = 0; r < M; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  }

  // Named accumulators (not acc[][] in the loop): GCC 12 otherwise spills two of the 12 to the stack.
  __m256 c00 = acc[0][0], c01 = acc[0][1];
  __m256 c10 = M > 1 ? acc[1 % M][0] : c00, c11 = M > 1 ? acc[1 % M][1] : c00;
  __m256 c20 = M > 2 ? acc[2 % M][0] : c00, c21 = M > 2 ? acc[2 % M][1] : c00;
  __m256 c30 = M > 3 ? acc[3 % M][0] : c00, c31 = M > 3 ? acc[3 % M][1] : c00;
  __m256 c40 = M > 4 ? acc[4 % M][0] : c00, c41 = M > 4 ? acc[4 % M][1] : c00;
  __m256 c50 = M > 5 ? acc[5 % M][0] : c00, c51 = M > 5 ? acc[5 % M][1] : c00;
#define PYRT_STEP(AP, BP)                                                             \
  do {                                                                                \
    const __m256 b0 = _mm256_load_ps(BP), b1 = _mm256_load_ps((BP) + 8);              \
    __m256 av = _mm256_broadcast_ss(AP);                                              \
    c00 = _mm256_fmadd_ps(av, b0, c00);                                               \
    c01 = _mm256_fmadd_ps(av, b1, c01);                                               \
    if (M > 1) {                                                                      \
      av = _mm256_broadcast_ss((AP) + 1);                                             \
      c10 = _mm256_fmadd_ps(av, b0, c10);                                             \
      c11 = _mm256_fmadd_ps(av, b1, c11);                                             \
    }                                                                                 \
    if (M > 2) {                                                                      \
      av = _mm256_broadcast_ss((AP) + 2);                                             \
      c20 = _mm256_fmadd_ps(av, b0, c20);                                             \
      c21 = _mm256_fmadd_ps(av, b1, c21);                                             \
    }                                                                                 \
    if (M > 3) {                                                                      \
      av = _mm256_broadcast_ss((AP) + 3);                                             \
      c30 = _mm256_fmadd_ps(av, b0, c30);                                             \
      c31 = _mm256_fmadd_ps(av, b1, c31);                                             \
    }                                                                                 \
    if (M > 4) {                                                                      \
      av = _mm256_broadcast_ss((AP) + 4);                                             \
      c40 = _mm256_fmadd_ps(av, b0, c40);                                             \
      c41 = _mm256_fmadd_ps(av, b1, c41);                                             \
    }                                                                                 \
    if (M > 5) {                                                                      \
      av = _mm256_broadcast_ss((AP) + 5);                                             \
      c50 = _mm256_fmadd_ps(av, b0, c50);                                             \
      c51 = _mm256_fmadd_ps(av, b1, c51);                                             \
    }                                                                                 \
  } while (0)

  size_t k = kc;
  if constexpr (M == MR) {
    // The hot loop in asm: GCC 12 spills one of the 12 accumulators and adds register moves when this
    // is written with intrinsics. Same FMA order as below (and as the reference).
    if (size_t n4 = k / 4) {
      __asm__ volatile(
        "1:\n\t"
        "vmovaps 0(%[b]), %%ymm12\n\t"
        "vmovaps 32(%[b]), %%ymm13\n\t"
        "prefetcht0 384(%[a])\n\t"
        "vbroadcastss 0(%[a]), %%ymm14\n\t"
        "vfmadd231ps %%ymm12, %%ymm14, %[c00]\n\t"
        "vfmadd231ps %%ymm13, %%ymm14, %[c01]\n\t"
        "vbroadcastss 4(%[a]), %%ymm15\n\t"
        "vfmadd231ps %%ymm12, %%ymm15, %[c10]\n\t"
        "vfmadd231ps %%ymm13, %%ymm15, %[c11]\n\t"
        "vbroadcastss 8(%[a]), %%ymm14\n\t"
        "vfmadd231ps %%ymm12, %%ymm14, %[c20]\n\t"
        "vfmadd231ps %%ymm13, %%ymm14, %[c21]\n\t"
        "vbroadcastss 12(%[a]), %%ymm15\n\t"
        "vfmadd231ps %%ymm12, %%ymm15, %[c30]\n\t"
        "vfmadd231ps %%ymm13, %%ymm15, %[c31]\n\t"
        "vbroadcastss 16(%[a]), %%ymm14\n\t"
        "vfmadd231ps %%ymm12, %%ymm14, %[c40]\n\t"
        "vfmadd231ps %%ymm13, %%ymm14, %[c41]\n\t"
        "vbroadcastss 20(%[a]), %%ymm15\n\t"
        "vfmadd231ps %%ymm12, %%ymm15, %[c50]\n\t"
        "vfmadd231ps %%ymm13, %%ymm15, %[c51]\n\t"
        "vmovaps 64(%[b]), %%ymm12\n\t"
        "vmovaps 96(%[b]), %%ymm13\n\t"
        "vbroadcastss 24(%[a]), %%ymm14\n\t"
        "vfmadd231ps %%ymm12, %%ymm14, %[c00]\n\t"
        "vfmadd231ps %%ymm13, %%ymm14, %[c01]\n\t"
        "vbroadcastss 28(%[a]), %%ymm15\n\t"
        "vfmadd231ps %%ymm12, %%ymm15, %[c10]\n\t"
        "vfmadd231ps %%ymm13, %%ymm15, %[c11]\n\t"
        "vbroadcastss 32(%[a]), %%ymm14\n\t"
        "vfmadd231ps %%ymm12, %%ymm14, %[c20]\n\t"
        "vfmadd231ps %%ymm13, %%ymm14, %[c21]\n\t"
        "vbroadcastss 36(%[a]), %%ymm15\n\t"
        "vfmadd231ps %%ymm12, %%ymm15, %[c30]\n\t"
        "vfmadd231ps %%ymm13, %%ymm15, %[c31]\n\t"
        "vbroadcastss 40(%[a]), %%ymm14\n\t"
        "vfmadd231ps %%ymm12, %%ymm14, %[c40]\n\t"
        "vfmadd231ps %%ymm13, %%ymm14, %[c41]\n\t"
        "vbroadcastss 44(%[a]), %%ymm15\n\t"
        "vfmadd231ps %%ymm12, %%ymm15, %[c50]\n\t"
        "vfmadd231ps %%ymm13, %%ymm15, %[c51]\n\t"
        "vmovaps 128(%[b]), %%ymm12\n\t"
        "vmovaps 160(%[b]), %%ymm13\n\t"
        "prefetcht0 448(%[a])\n\t"
        "vbroadcastss 48(%[a]), %%ymm14\n\t"
        "vfmadd231ps %%ymm12, %%ymm14, %[c00]\n\t"
        "vfmadd231ps %%ymm13, %%ymm14, %[c01]\n\t"
        "vbroadcastss 52(%[a]), %%ymm15\n\t"
        "vfmadd231ps %%ymm12, %%ymm15, %[c10]\n\t"
        "vfmadd231ps %%ymm13, %%ymm15, %[c11]\n\t"
        "vbroadcastss 56(%[a]), %%ymm14\n\t"
        "vfmadd231ps %%ymm12, %%ymm14, %[c20]\n\t"
        "vfmadd231ps %%ymm13, %%ymm14, %[c21]\n\t"
        "vbroadcastss 60(%[a]), %%ymm15\n\t"
        "vfmadd231ps %%ymm12, %%ymm15, %[c30]\n\t"
        "vfmadd231ps %%ymm13, %%ymm15, %[c31]\n\t"
        "vbroadcastss 64(%[a]), %%ymm14\n\t"
        "vfmadd231ps %%ymm12, %%ymm14, %[c40]\n\t"
        "vfmadd231ps %%ymm13, %%ymm14, %[c41]\n\t"
        "vbroadcastss 68(%[a]), %%ymm15\n\t"
        "vfmadd231ps %%ymm12, %%ymm15, %[c50]\n\t"
        "vfmadd231ps %%ymm13, %%ymm15, %[c51]\n\t"
        "vmovaps 192(%[b]), %%ymm12\n\t"
        "vmovaps 224(%[b]), %%ymm13\n\t"
        "vbroadcastss 72(%[a]), %%ymm14\n\t"
        "vfmadd231ps %%ymm12, %%ymm14, %[c00]\n\t"
        "vfmadd231ps %%ymm13, %%ymm14, %[c01]\n\t"
        "vbroadcastss 76(%[a]), %%ymm15\n\t"
        "vfmadd231ps %%ymm12, %%ymm15, %[c10]\n\t"
        "vfmadd231ps %%ymm13, %%ymm15, %[c11]\n\t"
        "vbroadcastss 80(%[a]), %%ymm14\n\t"
        "vfmadd231ps %%ymm12, %%ymm14, %[c20]\n\t"
        "vfmadd231ps %%ymm13, %%ymm14, %[c21]\n\t"
        "vbroadcastss 84(%[a]), %%ymm15\n\t"
        "vfmadd231ps %%ymm12, %%ymm15, %[c30]\n\t"
        "vfmadd231ps %%ymm13, %%ymm15, %[c31]\n\t"
        "vbroadcastss 88(%[a]), %%ymm14\n\t"
        "vfmadd231ps %%ymm12, %%ymm14, %[c40]\n\t"
        "vfmadd231ps %%ymm13, %%ymm14, %[c41]\n\t"
        "vbroadcastss 92(%[a]), %%ymm15\n\t"
        "vfmadd231ps %%ymm12, %%ymm15, %[c50]\n\t"
        "vfmadd231ps %%ymm13, %%ymm15, %[c51]\n\t"
        "addq $96, %[a]\n\t"
        "addq $256, %[b]\n\t"
        "decq %[n]\n\t"
        "jnz 1b\n\t"
        : [c00] "+x"(c00), [c01] "+x"(c01), [c10] "+x"(c10), [c11] "+x"(c11), [c20] "+x"(c20),
          [c21] "+x"(c21), [c30] "+x"(c30), [c31] "+x"(c31), [c40] "+x"(c40), [c41] "+x"(c41),
          [c50] "+x"(c50), [c51] "+x"(c51), [a] "+r"(a), [b] "+r"(b), [n] "+r"(n4)
        :
        : "xmm12", "xmm13", "xmm14", "xmm15", "cc", "memory");
      k %= 4;
    }
  }
  // K unrolled by 4; A is streamed from L2, so prefetch it ~16 k-steps ahead (B sits in L1).
  for (; k >= 4; k -= 4) {
    _mm_prefetch(reinterpret_cast<const char*>(a + 16 * MR), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(a + 16 * MR + 16), _MM_HINT_T0);
    PYRT_STEP(a, b);
    PYRT_STEP(a + MR, b + NR);
    PYRT_STEP(a + 2 * MR, b + 2 * NR);
    PYRT_STEP(a + 3 * MR, b + 3 * NR);
    a += 4 * MR;
    b += 4 * NR;
  }
  for (; k > 0; --k) {
    PYRT_STEP(a, b);
    a += MR;
    b += NR;
  }
#undef PYRT_STEP
  acc[0][0] = c00, acc[0][1] = c01;
  if (M > 1) acc[1 % M][0] = c10, acc[1 % M][1] = c11;
  if (M > 2) acc[2 % M][0] = c20, acc[2 % M][1] = c21;
  if (M > 3) acc[3 % M][0] = c30, acc[3 % M][1] = c31;
  if (M > 4) acc[4 % M][0] = c40, acc[4 % M][1] = c41;
  if (M > 5) acc[5 % M][0] = c50, acc[5 % M][1] = c51;

  if (p.flags & kGemmFinal) {
    if (p.bias_row) {
#pragma GCC unroll 6
      for (int r = 0; r < M; ++r) {
        const __m256 br = _mm256_broadcast_ss(p.bias_row + r);
        acc[r][0] = _mm256_add_ps(acc[r][0], br);
        acc[r][1] = _mm256_add_ps(acc[r][1], br);
      }
    }
    if (p.bias_col) {
      const __m256 bc0 = full ? _mm256_loadu_ps(p.bias_col) : _mm256_maskload_ps(p.bias_col, m0);
      const __m256 bc1 = full ? _mm256_loadu_ps(p.bias_col + 8) : _mm256_maskload_ps(p.bias_col + 8, m1);
#pragma GCC unroll 6
      for (int r = 0; r < M; ++r) {
        acc[r][0] = _mm256_add_ps(acc[r][0], bc0);
        acc[r][1] = _mm256_add_ps(acc[r][1], bc1);
      }
    }
    if (p.act != uint8_t(Act::kNone)) {
#pragma GCC unroll 6
      for (int r = 0; r < M; ++r) {
        acc[r][0] = activate(acc[r][0], p);
        acc[r][1] = activate(acc[r][1], p);
      }
    }
  }

#pragma GCC unroll 6
  for (int r = 0; r < M; ++r) {
    float* cr = c + r * ldc;
    if (full) {
      _mm256_storeu_ps(cr, acc[r][0]);
      _mm256_storeu_ps(cr + 8, acc[r][1]);
    } else {
      _mm256_maskstore_ps(cr, m0, acc[r][0]);
      _mm256_maskstore_ps(cr + 8, m1, acc[r][1]);
    }
  }
}

}  // namespace

void f32_gemm_6x16_avx2(size_t mr, size_t nr, size_t kc, const float* a, const float* b, float* c, size_t ldc,
                        const GemmUkArgs& p) {
  switch (mr) {
    case 6: return tile<6>(nr, kc, a, b, c, ldc, p);
    case 5: return tile<5>(nr, kc, a, b, c, ldc, p);
    case 4: return tile<4>(nr, kc, a, b, c, ldc, p);
    case 3: return tile<3>(nr, kc, a, b, c, ldc, p);
    case 2: return tile<2>(nr, kc, a, b, c, ldc, p);
    default: return tile<1>(nr, kc, a, b, c, ldc, p);
  }
}

}  // namespace pyrt::kernels::x86
