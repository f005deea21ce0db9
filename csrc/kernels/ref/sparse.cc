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
      for (uint32_t k = m.start[o]; k < m.start[o + 1]; ++k) acc = std::fma(m.w[k], x[m.col[k] * x_stride + p], acc);
      y[o * y_stride + p] = fused ? act_one(act, acc) : acc;
    }
}

void spmv(const SparseRows& m, const float* x, const float* bias, float* y, size_t r0, size_t r1) {
  for (size_t r = r0; r < r1; ++r) {
    float acc = 0.f;
    if (m.q) {
      for (uint32_t k = m.start[r]; k < m.start[r + 1]; ++k) acc = std::fma(float(m.q[k]), x[m.col[k]], acc);
      acc *= m.row_scale[r];
    } else {
      for (uint32_t k = m.start[r]; k < m.start[r + 1]; ++k) acc = std::fma(m.w[k], x[m.col[k]], acc);
    }
    y[r] = acc + (bias ? bias[r] : 0.f);
  }
}

}  // namespace pyrt::kernels::ref
