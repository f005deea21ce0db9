// The int4 x int8 GEMV and GEMM loops of the NEON kernels, over the instruction that accumulates a chunk's products
// (Dot::acc: widening multiplies on any ARMv8, sdot with the dotprod extension). `static` so that each
// translation unit, built with its own -march, keeps a private copy (see kernels/dwconv_plane.h).
//
// 32 weights a step: the chunk's 16 bytes, low nibbles against the activations' even-indexed half and high
// nibbles against the odd half, made signed in registers ((nibble ^ 8) - 8 = w); int32 lanes per group,
// then the group's scale. One row at a time: rows are separate streams, and at k = 8192 they start exactly
// 4 KiB apart (reading several in step aliased in L1 on x86).
#pragma once
#include <arm_neon.h>

#include "kernels/dispatch.h"
#include "kernels/ref/ref.h"

namespace pyrt::kernels::arm::i4gemv {

template <class Dot>
static float row(const I4Matrix& w, const I8Groups& x, size_t n) {
  const uint8_t* wr = w.q + n * (w.ng * w.group / 2);
  const uint8x16_t m4 = vdupq_n_u8(0x0F), flip = vdupq_n_u8(0x88);
  const int8x16_t eight = vdupq_n_s8(8);
  float32x4_t acc = vdupq_n_f32(0.f);
  for (size_t g = 0; g < w.ng; ++g) {
    int32x4_t p = vdupq_n_s32(0);
    for (size_t c = 0; c < w.group; c += 32) {
      const int8x16_t xe = vld1q_s8(x.q + g * w.group + c), xo = vld1q_s8(x.q + g * w.group + c + 16);
      const uint8x16_t b = veorq_u8(flip, vld1q_u8(wr + (g * w.group + c) / 2));
      const int8x16_t we = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(b, m4)), eight);
      const int8x16_t wo = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(b, 4)), eight);
      p = Dot::acc(Dot::acc(p, we, xe), wo, xo);
    }
    const size_t gi = n * w.ng + g;
    const float ws = w.scales_f16 ? ref::f16_to_f32_one(static_cast<const uint16_t*>(w.scales)[gi])
                                  : static_cast<const float*>(w.scales)[gi];
    acc = vfmaq_n_f32(acc, vcvtq_f32_s32(p), ws * x.scale[g]);
  }
  return vaddvq_f32(acc);
}

template <class Dot>
static void gemv(const I4Matrix& w, const I8Groups& x, const float* bias, float* y, size_t n0, size_t n1) {
  if (w.group % 32) return ref::gemv_i4(w, x, bias, y, n0, n1);
  for (size_t n = n0; n < n1; ++n) y[n] = row<Dot>(w, x, n) + (bias ? bias[n] : 0.f);
}

// The int4 GEMM: rows m0 .. m0 + MR of x against weight rows [n0, n1), each 32-weight chunk unpacked once for
// the MR rows. x is quantized in the GEMV's chunk order (Table::i4_rows_chunked), so each row's products fall
// into the same lanes and its sums run in the same order as row(): the GEMM is the GEMV of every row, bit for bit.
template <class Dot, size_t MR>
static void gemm_rows(const I4Matrix& w, const I8Rows& x, size_t m0, const float* bias, float* y, size_t ldy,
                      size_t n0, size_t n1) {
  const size_t kq = w.ng * w.group;
  const uint8x16_t m4 = vdupq_n_u8(0x0F), flip = vdupq_n_u8(0x88);
  const int8x16_t eight = vdupq_n_s8(8);
  for (size_t n = n0; n < n1; ++n) {
    const uint8_t* wr = w.q + n * (kq / 2);
    float32x4_t acc[MR];
    for (size_t r = 0; r < MR; ++r) acc[r] = vdupq_n_f32(0.f);
    for (size_t g = 0; g < w.ng; ++g) {
      int32x4_t p[MR];
      for (size_t r = 0; r < MR; ++r) p[r] = vdupq_n_s32(0);
      for (size_t c = 0; c < w.group; c += 32) {
        const uint8x16_t b = veorq_u8(flip, vld1q_u8(wr + (g * w.group + c) / 2));
        const int8x16_t we = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(b, m4)), eight);
        const int8x16_t wo = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(b, 4)), eight);
        for (size_t r = 0; r < MR; ++r) {
          const int8_t* xr = x.q + (m0 + r) * kq + g * w.group + c;
          p[r] = Dot::acc(Dot::acc(p[r], we, vld1q_s8(xr)), wo, vld1q_s8(xr + 16));
        }
      }
      const size_t gi = n * w.ng + g;
      const float ws = w.scales_f16 ? ref::f16_to_f32_one(static_cast<const uint16_t*>(w.scales)[gi])
                                    : static_cast<const float*>(w.scales)[gi];
      for (size_t r = 0; r < MR; ++r) acc[r] = vfmaq_n_f32(acc[r], vcvtq_f32_s32(p[r]), ws * x.scale[(m0 + r) * w.ng + g]);
    }
    for (size_t r = 0; r < MR; ++r) y[(m0 + r) * ldy + n] = vaddvq_f32(acc[r]) + (bias ? bias[n] : 0.f);
  }
}

template <class Dot>
static void gemm(const I4Matrix& w, const I8Rows& x, const float* bias, float* y, size_t ldy, size_t n0, size_t n1) {
  const size_t kq = w.ng * w.group;
  if (w.group % 32) {  // as the GEMV: the reference, row by row
    for (size_t m = 0; m < x.rows; ++m)
      ref::gemv_i4(w, I8Groups{x.q + m * kq, x.scale + m * w.ng, nullptr}, bias, y + m * ldy, n0, n1);
    return;
  }
  size_t m = 0;
  for (; m + 4 <= x.rows; m += 4) gemm_rows<Dot, 4>(w, x, m, bias, y, ldy, n0, n1);
  if (x.rows - m == 3) gemm_rows<Dot, 3>(w, x, m, bias, y, ldy, n0, n1);
  if (x.rows - m == 2) gemm_rows<Dot, 2>(w, x, m, bias, y, ldy, n0, n1);
  if (x.rows - m == 1) gemm_rows<Dot, 1>(w, x, m, bias, y, ldy, n0, n1);
}

}  // namespace pyrt::kernels::arm::i4gemv
