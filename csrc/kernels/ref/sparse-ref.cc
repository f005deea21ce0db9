// Scalar references of the sparse kernels: one FMA chain per output over its row's nonzeros, in order.
#include <cmath>

#include "kernels/ref/ref.h"

namespace pyrt::kernels::ref {

void spmm(const SparseRows& m, size_t x_stride, const float* bias, const ActParams& act, const float* x, float* y,
          size_t y_stride, size_t p0, size_t p1) {
  const bool fused = act.act == Act::kRelu || act.act == Act::kClip;
  for (size_t o = 0; o < m.rows; ++o)
    for (size_t p = p0; p < p1; ++p) {
      float acc = bias ? bias[o] : 0.f;
      for (uint32_t k = m.start[o]; k < m.start[o + 1]; ++k) acc = std::fma(m.w[k], x[x_row(m, col_at(m, k), x_stride) + p], acc);
      y[o * y_stride + p] = fused ? act_one(act, acc) : acc;
    }
}

void spmv(const SparseRows& m, const float* x, const float* bias, float* y, size_t r0, size_t r1) {
  for (size_t r = r0; r < r1; ++r) {
    float acc = 0.f;
    if (m.q) {
      for (uint32_t k = m.start[r]; k < m.start[r + 1]; ++k) acc = std::fma(float(m.q[k]), x[col_at(m, k)], acc);
      acc *= m.row_scale[r];
    } else {
      for (uint32_t k = m.start[r]; k < m.start[r + 1]; ++k) acc = std::fma(m.w[k], x[col_at(m, k)], acc);
    }
    y[r] = acc + (bias ? bias[r] : 0.f);
  }
}

void sqgemm(const SparseQ& w, const uint8_t* a, size_t lda, size_t m, const int32_t* bias, const float* scale,
            const QRequant& rq, void* c, size_t ldc, size_t n0, size_t n1) {
  for (size_t i = 0; i < m; ++i)
    for (size_t n = n0; n < n1; ++n) {
      int32_t acc = bias[n];
      for (uint32_t k = w.start[n]; k < w.start[n + 1]; ++k) acc += int32_t(w.q[k]) * int32_t(a[i * lda + w.col[k]]);
      if (rq.f32_out) static_cast<float*>(c)[i * ldc + n] = float(acc) * scale[n];
      else static_cast<uint8_t*>(c)[i * ldc + n] = requant_one(acc, scale[n], rq);
    }
}

}  // namespace pyrt::kernels::ref
