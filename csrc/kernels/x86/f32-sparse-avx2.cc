// Sparse kernels, AVX2: spmm on 64 pixels (8 ymm accumulators, enough chains to cover the FMA latency) of one
// output channel at a time, pixel tails of 8 then the scalar formula; spmv 8 nonzeros a step with a gather.
#include <immintrin.h>

#include <cmath>

#include "kernels/ref/ref.h"
#include "kernels/x86/x86.h"

namespace pyrt::kernels::x86 {
namespace {

inline __m256 activate(__m256 v, const ActParams& a) {
  if (a.act == Act::kRelu) return _mm256_max_ps(v, _mm256_setzero_ps());
  if (a.act == Act::kClip) return _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(a.p0)), _mm256_set1_ps(a.p1));
  return v;
}

template <int V, class I>
inline void tile(const SparseRows& m, const I* col, size_t x_stride, const float* bias, const ActParams& act,
                 const float* x, float* y, size_t y_stride, size_t p) {
  for (size_t o = 0; o < m.rows; ++o) {
    __m256 acc[V];
    const __m256 b = _mm256_set1_ps(bias ? bias[o] : 0.f);
    for (int v = 0; v < V; ++v) acc[v] = b;
    const float* xp = x + p;
    for (uint32_t k = m.start[o]; k < m.start[o + 1]; ++k) {
      const __m256 w = _mm256_set1_ps(m.w[k]);
      const float* xr = xp + x_row(m, col[k], x_stride);
#pragma GCC unroll 8
      for (int v = 0; v < V; ++v) acc[v] = _mm256_fmadd_ps(w, _mm256_loadu_ps(xr + 8 * v), acc[v]);
    }
    for (int v = 0; v < V; ++v) _mm256_storeu_ps(y + o * y_stride + p + 8 * v, activate(acc[v], act));
  }
}

}  // namespace

void spmm_avx2(const SparseRows& m, size_t x_stride, const float* bias, const ActParams& act, const float* x,
               float* y, size_t y_stride, size_t p0, size_t p1) {
  if (act.act != Act::kNone && act.act != Act::kRelu && act.act != Act::kClip)
    return ref::spmm(m, x_stride, bias, act, x, y, y_stride, p0, p1);
  size_t p = p0;
  with_cols(m, [&](const auto* col) {
    for (; p + 64 <= p1; p += 64) tile<8>(m, col, x_stride, bias, act, x, y, y_stride, p);
    for (; p + 32 <= p1; p += 32) tile<4>(m, col, x_stride, bias, act, x, y, y_stride, p);
    for (; p + 8 <= p1; p += 8) tile<1>(m, col, x_stride, bias, act, x, y, y_stride, p);
  });
  if (p < p1) ref::spmm(m, x_stride, bias, act, x, y, y_stride, p, p1);
}

void spmv_avx2(const SparseRows& m, const float* x, const float* bias, float* y, size_t r0, size_t r1) {
  for (size_t r = r0; r < r1; ++r) {
    __m256 acc = _mm256_setzero_ps();
    uint32_t k = m.start[r];
    const uint32_t e = m.start[r + 1];
    for (; k + 8 <= e; k += 8) {
      const __m256i idx = m.col16 ? _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(m.col16 + k)))
                                  : _mm256_loadu_si256(reinterpret_cast<const __m256i*>(m.col + k));
      const __m256 w = m.q ? _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(m.q + k))))
                           : _mm256_loadu_ps(m.w + k);
      acc = _mm256_fmadd_ps(w, _mm256_i32gather_ps(x, idx, 4), acc);
    }
    const __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    float s = _mm_cvtss_f32(_mm_hadd_ps(_mm_hadd_ps(h, h), _mm_hadd_ps(h, h)));
    for (; k < e; ++k) s = std::fma(m.q ? float(m.q[k]) : m.w[k], x[col_at(m, k)], s);
    y[r] = (m.q ? s * m.row_scale[r] : s) + (bias ? bias[r] : 0.f);
  }
}

}  // namespace pyrt::kernels::x86
