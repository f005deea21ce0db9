// Sparse kernels, NEON: spmm on 16 pixels (4 q accumulators) of one output channel at a time, pixel tails of 4
// then the scalar formula; spmv with 4 lanes of partial sums (x read by column, no gather instruction).
#include <arm_neon.h>

#include <cmath>

#include "kernels/arm/arm.h"
#include "kernels/ref/ref.h"

namespace pyrt::kernels::arm {
namespace {

inline float32x4_t activate(float32x4_t v, const ActParams& a) {
  if (a.act == Act::kRelu) return vmaxnmq_f32(v, vdupq_n_f32(0.f));
  if (a.act == Act::kClip) return vminnmq_f32(vmaxnmq_f32(v, vdupq_n_f32(a.p0)), vdupq_n_f32(a.p1));
  return v;
}

template <int V, class I>
inline void tile(const SparseRows& m, const I* col, size_t x_stride, const float* bias, const ActParams& act,
                 const float* x, float* y, size_t y_stride, size_t p) {
  for (size_t o = 0; o < m.rows; ++o) {
    float32x4_t acc[V];
    for (int v = 0; v < V; ++v) acc[v] = vdupq_n_f32(bias ? bias[o] : 0.f);
    const float* xp = x + p;
    for (uint32_t k = m.start[o]; k < m.start[o + 1]; ++k) {
      const float32x4_t w = vdupq_n_f32(m.w[k]);
      const float* xr = xp + x_row(m, col[k], x_stride);
      for (int v = 0; v < V; ++v) acc[v] = vfmaq_f32(acc[v], w, vld1q_f32(xr + 4 * v));
    }
    for (int v = 0; v < V; ++v) vst1q_f32(y + o * y_stride + p + 4 * v, activate(acc[v], act));
  }
}

}  // namespace

void spmm_neon(const SparseRows& m, size_t x_stride, const float* bias, const ActParams& act, const float* x,
               float* y, size_t y_stride, size_t p0, size_t p1) {
  if (act.act != Act::kNone && act.act != Act::kRelu && act.act != Act::kClip)
    return ref::spmm(m, x_stride, bias, act, x, y, y_stride, p0, p1);
  size_t p = p0;
  with_cols(m, [&](const auto* col) {
    for (; p + 16 <= p1; p += 16) tile<4>(m, col, x_stride, bias, act, x, y, y_stride, p);
    for (; p + 4 <= p1; p += 4) tile<1>(m, col, x_stride, bias, act, x, y, y_stride, p);
  });
  if (p < p1) ref::spmm(m, x_stride, bias, act, x, y, y_stride, p, p1);
}

void spmv_neon(const SparseRows& m, const float* x, const float* bias, float* y, size_t r0, size_t r1) {
  auto wv = [&](uint32_t k) { return m.q ? float(m.q[k]) : m.w[k]; };
  with_cols(m, [&](const auto* col) {
    for (size_t r = r0; r < r1; ++r) {
      float32x4_t acc = vdupq_n_f32(0.f);
      uint32_t k = m.start[r];
      const uint32_t e = m.start[r + 1];
      for (; k + 4 <= e; k += 4) {
        const float xs[4] = {x[col[k]], x[col[k + 1]], x[col[k + 2]], x[col[k + 3]]};
        const float ws[4] = {wv(k), wv(k + 1), wv(k + 2), wv(k + 3)};
        acc = vfmaq_f32(acc, vld1q_f32(ws), vld1q_f32(xs));
      }
      float s = vaddvq_f32(acc);
      for (; k < e; ++k) s = std::fma(wv(k), x[col[k]], s);
      y[r] = (m.q ? s * m.row_scale[r] : s) + (bias ? bias[r] : 0.f);
    }
  });
}

}  // namespace pyrt::kernels::arm
