// The int4 x int8 GEMV loop of the NEON kernels, over the instruction that accumulates a chunk's products
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

}  // namespace pyrt::kernels::arm::i4gemv
