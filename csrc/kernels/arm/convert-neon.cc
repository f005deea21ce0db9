// Decode kernels for NEON: f16 widening (FCVTL) and i8/i4 dequantization, 16 values per step. Bit-identical
// to kernels/ref/convert.cc: the same int32 -> f32 conversion (exact for these ranges) and one f32 multiply,
// no FMA. FCVTL keeps NaN payloads and quiets signalling NaNs (FPCR.DN is 0 under Linux), as the reference.
#include <arm_neon.h>

#include "kernels/arm/arm.h"
#include "kernels/ref/ref.h"

namespace pyrt::kernels::arm {
namespace {

// Four int32 lanes minus the zero point, converted and scaled.
inline float32x4_t scale4(int32x4_t w, int32x4_t zp, float32x4_t s) {
  return vmulq_f32(vcvtq_f32_s32(vsubq_s32(w, zp)), s);
}

}  // namespace

void f16_to_f32_neon(const uint16_t* in, float* out, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const float16x8_t h = vreinterpretq_f16_u16(vld1q_u16(in + i));
    vst1q_f32(out + i, vcvt_f32_f16(vget_low_f16(h)));
    vst1q_f32(out + i + 4, vcvt_high_f32_f16(h));
  }
  ref::f16_to_f32(in + i, out + i, n - i);
}

void dequant_i8_neon(const int8_t* q, size_t n, int32_t zp, float scale, float* out) {
  const int32x4_t vzp = vdupq_n_s32(zp);
  const float32x4_t vs = vdupq_n_f32(scale);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const int8x16_t b = vld1q_s8(q + i);
    const int16x8_t lo = vmovl_s8(vget_low_s8(b)), hi = vmovl_high_s8(b);
    vst1q_f32(out + i, scale4(vmovl_s16(vget_low_s16(lo)), vzp, vs));
    vst1q_f32(out + i + 4, scale4(vmovl_high_s16(lo), vzp, vs));
    vst1q_f32(out + i + 8, scale4(vmovl_s16(vget_low_s16(hi)), vzp, vs));
    vst1q_f32(out + i + 12, scale4(vmovl_high_s16(hi), vzp, vs));
  }
  ref::dequant_i8(q + i, n - i, zp, scale, out + i);
}

void dequant_i4_neon(const uint8_t* packed, size_t n, bool is_signed, int32_t zp, float scale, float* out) {
  // 8 bytes -> 16 nibbles in stream order (low nibble first): interleave the low and high halves.
  const float32x4_t vs = vdupq_n_f32(scale);
  const int32x4_t vzp = vdupq_n_s32(is_signed ? 8 : zp);
  const uint8x8_t mask = vdup_n_u8(0x0F), eight = vdup_n_u8(is_signed ? 8 : 0);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const uint8x8_t b = vld1_u8(packed + i / 2);
    // signed: (nib ^ 8) - 8 is the two's complement value of the nibble
    const uint8x8_t lo = veor_u8(vand_u8(b, mask), eight), hi = veor_u8(vshr_n_u8(b, 4), eight);
    const uint8x16_t nib = vcombine_u8(vzip1_u8(lo, hi), vzip2_u8(lo, hi));
    const uint16x8_t w0 = vmovl_u8(vget_low_u8(nib)), w1 = vmovl_high_u8(nib);
    vst1q_f32(out + i, scale4(vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(w0))), vzp, vs));
    vst1q_f32(out + i + 4, scale4(vreinterpretq_s32_u32(vmovl_high_u16(w0)), vzp, vs));
    vst1q_f32(out + i + 8, scale4(vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(w1))), vzp, vs));
    vst1q_f32(out + i + 12, scale4(vreinterpretq_s32_u32(vmovl_high_u16(w1)), vzp, vs));
  }
  ref::dequant_i4(packed + i / 2, n - i, is_signed, zp, scale, out + i);
}

}  // namespace pyrt::kernels::arm
