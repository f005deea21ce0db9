// int4 x int8 matrix-vector product with NEON (any ARMv8: no dotprod needed): 32 weights a step, low and high
// nibbles made signed in registers against the activations' even and odd halves, widening multiplies (smull)
// pairwise-accumulated into int32 lanes (sadalp), then the group's scale. Groups must be multiples of 32 (else
// the reference runs).
#include <arm_neon.h>

#include "kernels/arm/arm.h"
#include "kernels/ref/ref.h"

namespace pyrt::kernels::arm {
namespace {

inline float wscale(const I4Matrix& w, size_t gi) {
  return w.scales_f16 ? ref::f16_to_f32_one(static_cast<const uint16_t*>(w.scales)[gi])
                      : static_cast<const float*>(w.scales)[gi];
}

template <int R>
void rows(const I4Matrix& w, const I8Groups& x, const float* bias, float* y, size_t n) {
  const size_t row_bytes = w.ng * w.group / 2;
  const uint8x16_t m4 = vdupq_n_u8(0x0F), flip = vdupq_n_u8(0x88);
  const int8x16_t eight = vdupq_n_s8(8);
  float32x4_t acc[R];
  for (int r = 0; r < R; ++r) acc[r] = vdupq_n_f32(0.f);
  for (size_t g = 0; g < w.ng; ++g) {
    int32x4_t p[R];
    for (int r = 0; r < R; ++r) p[r] = vdupq_n_s32(0);
    for (size_t c = 0; c < w.group; c += 32) {
      // x chunk: 16 even-indexed values, then 16 odd-indexed (the nibbles' order)
      const int8x16_t xe = vld1q_s8(x.q + g * w.group + c), xo = vld1q_s8(x.q + g * w.group + c + 16);
      for (int r = 0; r < R; ++r) {
        // a stored nibble is w & 0xF (two's complement): (nibble ^ 8) - 8 = w
        const uint8x16_t b = veorq_u8(flip, vld1q_u8(w.q + (n + size_t(r)) * row_bytes + (g * w.group + c) / 2));
        const int8x16_t we = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(b, m4)), eight);
        const int8x16_t wo = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(b, 4)), eight);
        int32x4_t a = vpadalq_s16(p[r], vmull_s8(vget_low_s8(we), vget_low_s8(xe)));
        a = vpadalq_s16(a, vmull_high_s8(we, xe));
        a = vpadalq_s16(a, vmull_s8(vget_low_s8(wo), vget_low_s8(xo)));
        p[r] = vpadalq_s16(a, vmull_high_s8(wo, xo));
      }
    }
    for (int r = 0; r < R; ++r) {
      const float s = wscale(w, (n + size_t(r)) * w.ng + g) * x.scale[g];
      acc[r] = vfmaq_n_f32(acc[r], vcvtq_f32_s32(p[r]), s);
    }
  }
  for (int r = 0; r < R; ++r) y[n + size_t(r)] = vaddvq_f32(acc[r]) + (bias ? bias[n + size_t(r)] : 0.f);
}

}  // namespace

void gemv_i4_neon(const I4Matrix& w, const I8Groups& x, const float* bias, float* y, size_t n0, size_t n1) {
  if (w.group % 32) return ref::gemv_i4(w, x, bias, y, n0, n1);
  // One row at a time: rows are separate streams, and at k = 8192 they start exactly 4 KiB apart, so reading
  // several in step (to share the activation loads) aliased in L1 and ran at a third of the bandwidth.
  for (size_t n = n0; n < n1; ++n) rows<1>(w, x, bias, y, n);
}

}  // namespace pyrt::kernels::arm
