// f32 GEMM microkernel for AVX2 + FMA: 6x16 tile, 12 ymm accumulators, per k two aligned B loads and six A
// broadcasts. Templated on the row count so that edge tiles (mr < 6, e.g. batch-1 Linear) run only the FMAs
// they need; column edges (nr < 16) use masked loads/stores. Bit-identical to ref/f32-gemm-ref.cc.
#include <immintrin.h>

#include "core/activation.h"
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

  // K unrolled by 4; A is streamed from L2, so prefetch it ~16 k-steps ahead (B sits in L1).
  size_t k = kc;
  for (; k >= 4; k -= 4) {
    _mm_prefetch(reinterpret_cast<const char*>(a + 16 * MR), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(a + 16 * MR + 16), _MM_HINT_T0);
#pragma GCC unroll 4
    for (int u = 0; u < 4; ++u) {
      const __m256 b0 = _mm256_load_ps(b + u * NR), b1 = _mm256_load_ps(b + u * NR + 8);
#pragma GCC unroll 6
      for (int r = 0; r < M; ++r) {
        const __m256 av = _mm256_broadcast_ss(a + u * MR + r);
        acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
        acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
      }
    }
    a += 4 * MR;
    b += 4 * NR;
  }
  for (; k > 0; --k) {
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 6
    for (int r = 0; r < M; ++r) {
      const __m256 av = _mm256_broadcast_ss(a + r);
      acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
    }
    a += MR;
    b += NR;
  }

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
