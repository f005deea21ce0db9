// int4 x int8 matrix-vector product with NEON (any ARMv8: no dotprod needed): 16 weights a step, nibbles
// unpacked and made signed in registers, widening multiplies (smull) pairwise-accumulated into int32 lanes
// (sadalp), then the group's scale. Four rows share each activation load. Groups must be multiples of 16.
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
  const uint8x8_t m4 = vdup_n_u8(0x0F), flip = vdup_n_u8(0x88);
  const int8x16_t eight = vdupq_n_s8(8);
  float32x4_t acc[R];
  for (int r = 0; r < R; ++r) acc[r] = vdupq_n_f32(0.f);
  for (size_t g = 0; g < w.ng; ++g) {
    int32x4_t p[R];
    for (int r = 0; r < R; ++r) p[r] = vdupq_n_s32(0);
    for (size_t c = 0; c < w.group; c += 16) {
      const int8x16_t xv = vld1q_s8(x.q + g * w.group + c);
      for (int r = 0; r < R; ++r) {
        // a stored nibble is w & 0xF (two's complement): (nibble ^ 8) - 8 = w
        const uint8x8_t b = veor_u8(flip, vld1_u8(w.q + (n + size_t(r)) * row_bytes + (g * w.group + c) / 2));
        const uint8x8x2_t z = vzip_u8(vand_u8(b, m4), vshr_n_u8(b, 4));   // natural order
        const int8x16_t wv = vsubq_s8(vreinterpretq_s8_u8(vcombine_u8(z.val[0], z.val[1])), eight);
        const int16x8_t lo = vmull_s8(vget_low_s8(wv), vget_low_s8(xv));
        const int16x8_t hi = vmull_s8(vget_high_s8(wv), vget_high_s8(xv));
        p[r] = vpadalq_s16(vpadalq_s16(p[r], lo), hi);
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
  if (w.group % 16) return ref::gemv_i4(w, x, bias, y, n0, n1);
  size_t n = n0;
  for (; n + 4 <= n1; n += 4) rows<4>(w, x, bias, y, n);
  for (; n < n1; ++n) rows<1>(w, x, bias, y, n);
}

}  // namespace pyrt::kernels::arm
