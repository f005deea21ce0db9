// u8 quantize / dequantize / quantized Add with NEON: the reference's float operations lane by lane (FDIV, FMLA
// for std::fma, FCVTNS rounding to nearest even), so results are bit-identical; tails go to the reference.
#include <arm_neon.h>

#include "kernels/arm/arm.h"
#include "kernels/ref/ref.h"

namespace pyrt::kernels::arm {
namespace {

// 16 int32 lanes in [0, 255] -> 16 bytes
inline uint8x16_t pack16(int32x4_t a, int32x4_t b, int32x4_t c, int32x4_t d) {
  return vcombine_u8(vqmovun_s16(vcombine_s16(vqmovn_s32(a), vqmovn_s32(b))),
                     vqmovun_s16(vcombine_s16(vqmovn_s32(c), vqmovn_s32(d))));
}

// 16 bytes -> 4 x int32x4_t
inline void widen16(uint8x16_t v, int32x4_t out[4]) {
  const uint16x8_t l = vmovl_u8(vget_low_u8(v)), h = vmovl_high_u8(v);
  out[0] = vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(l)));
  out[1] = vreinterpretq_s32_u32(vmovl_high_u16(l));
  out[2] = vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(h)));
  out[3] = vreinterpretq_s32_u32(vmovl_high_u16(h));
}

}  // namespace

void quantize_u8_neon(const float* x, size_t n, QParams q, uint8_t* y) {
  const float32x4_t s = vdupq_n_f32(q.scale), lo = vdupq_n_f32(float(-q.zp)), hi = vdupq_n_f32(float(255 - q.zp));
  const int32x4_t zp = vdupq_n_s32(q.zp);
  auto one = [&](const float* p) {
    const float32x4_t v = vdivq_f32(vld1q_f32(p), s);
    // compare + select as the reference's !(v >= lo): NaN -> lo (FMAX would propagate it)
    const float32x4_t c = vminq_f32(vbslq_f32(vcgeq_f32(v, lo), v, lo), hi);
    return vaddq_s32(vcvtnq_s32_f32(c), zp);
  };
  size_t i = 0;
  for (; i + 16 <= n; i += 16) vst1q_u8(y + i, pack16(one(x + i), one(x + i + 4), one(x + i + 8), one(x + i + 12)));
  ref::quantize_u8(x + i, n - i, q, y + i);
}

void dequantize_u8_neon(const uint8_t* x, size_t n, QParams q, float* y) {
  const float32x4_t s = vdupq_n_f32(q.scale);
  const int32x4_t zp = vdupq_n_s32(q.zp);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    int32x4_t v[4];
    widen16(vld1q_u8(x + i), v);
    for (int j = 0; j < 4; ++j) vst1q_f32(y + i + 4 * j, vmulq_f32(vcvtq_f32_s32(vsubq_s32(v[j], zp)), s));
  }
  ref::dequantize_u8(x + i, n - i, q, y + i);
}

void qadd_u8_neon(const uint8_t* a, size_t as, const uint8_t* b, size_t bs, const QAddParams& p, uint8_t* y,
                  size_t n) {
  if ((as != 0 && as != 1) || (bs != 0 && bs != 1)) return ref::qadd_u8(a, as, b, bs, p, y, n);
  const float32x4_t ma = vdupq_n_f32(p.ma), mb = vdupq_n_f32(p.mb);
  const float32x4_t lo = vdupq_n_f32(p.rq.lo), hi = vdupq_n_f32(p.rq.hi);
  const int32x4_t za = vdupq_n_s32(p.za), zb = vdupq_n_s32(p.zb), zy = vdupq_n_s32(p.rq.zp);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    int32x4_t va[4], vb[4], q[4];
    widen16(as ? vld1q_u8(a + i) : vdupq_n_u8(*a), va);  // step 0: every lane reads the one scalar
    widen16(bs ? vld1q_u8(b + i) : vdupq_n_u8(*b), vb);
    for (int j = 0; j < 4; ++j) {
      const float32x4_t fa = vcvtq_f32_s32(vsubq_s32(va[j], za)), fb = vcvtq_f32_s32(vsubq_s32(vb[j], zb));
      const float32x4_t v = vfmaq_f32(vmulq_f32(fa, ma), fb, mb);  // = std::fma(fb, mb, fa * ma)
      q[j] = vaddq_s32(vcvtnq_s32_f32(vminq_f32(vmaxq_f32(v, lo), hi)), zy);
    }
    vst1q_u8(y + i, pack16(q[0], q[1], q[2], q[3]));
  }
  ref::qadd_u8(a + i * as, as, b + i * bs, bs, p, y + i, n - i);
}

}  // namespace pyrt::kernels::arm
