// u8 depthwise convolution, channels last, with NEON: 16 channels a step. USUBL gives x - zx as int16 (exact,
// in [-255, 255]) and SMLAL/SMLAL2 add its products with the int16 weights into int32 exactly; an 8-channel
// step, then the scalar formula for the last < 8 channels.
#include <arm_neon.h>

#include "kernels/arm/arm.h"
#include "kernels/dwconv_nhwc.h"
#include "kernels/ref/ref.h"

namespace pyrt::kernels::arm {
namespace {

using dwnhwc::Taps;
using dwnhwc::taps;

inline int32x4_t requant4(int32x4_t acc, const float* scale, float32x4_t lo, float32x4_t hi, int32x4_t zp) {
  const float32x4_t v = vminq_f32(vmaxq_f32(vmulq_f32(vcvtq_f32_s32(acc), vld1q_f32(scale)), lo), hi);
  return vaddq_s32(vcvtnq_s32_f32(v), zp);  // FCVTNS: nearest, ties to even
}

inline uint8x8_t pack8(int32x4_t a, int32x4_t b) { return vqmovun_s16(vcombine_s16(vqmovn_s32(a), vqmovn_s32(b))); }

}  // namespace

void qdwconv_nhwc_neon(const DwNhwcParams& p, const uint8_t* x, int32_t zx, const int16_t* w, const int32_t* bias,
                       const float* scale, const QRequant& rq, uint8_t* y, int64_t oh0, int64_t oh1) {
  if (zx < 0 || zx > 255) return ref::qdwconv_nhwc(p, x, zx, w, bias, scale, rq, y, oh0, oh1);  // not a u8 zp
  const float32x4_t lo = vdupq_n_f32(rq.lo), hi = vdupq_n_f32(rq.hi);
  const int32x4_t zp = vdupq_n_s32(rq.zp);
  const uint8x8_t z8 = vdup_n_u8(uint8_t(zx));
  const int64_t C = p.c;
  for (int64_t oh = oh0; oh < oh1; ++oh)
    for (int64_t ow = 0; ow < p.ow; ++ow) {
      const Taps t = taps(p, oh, ow);
      const int64_t ih0 = oh * p.sh - p.pt, iw0 = ow * p.sw - p.pl;
      uint8_t* yp = y + (oh * p.ow + ow) * C;
      int64_t c = p.cb;
      for (; c + 16 <= p.ce; c += 16) {
        int32x4_t a0 = vld1q_s32(bias + c), a1 = vld1q_s32(bias + c + 4);
        int32x4_t a2 = vld1q_s32(bias + c + 8), a3 = vld1q_s32(bias + c + 12);
        for (int64_t i = t.i0; i < t.i1; ++i) {
          const int64_t xr = ((ih0 + i * p.dh) * p.w + iw0) * C + c;  // index (may be < 0 before the 1st tap)
          const int16_t* wr = w + i * p.kw * C + c;
          for (int64_t j = t.j0; j < t.j1; ++j) {
            const uint8x16_t xv = vld1q_u8(x + (xr + j * p.dw * C));
            // u8 - u8 modulo 2^16, read as int16: exactly x - zx
            const int16x8_t d0 = vreinterpretq_s16_u16(vsubl_u8(vget_low_u8(xv), z8));
            const int16x8_t d1 = vreinterpretq_s16_u16(vsubl_high_u8(xv, vcombine_u8(z8, z8)));
            const int16x8_t w0 = vld1q_s16(wr + j * C), w1 = vld1q_s16(wr + j * C + 8);
            a0 = vmlal_s16(a0, vget_low_s16(d0), vget_low_s16(w0));
            a1 = vmlal_high_s16(a1, d0, w0);
            a2 = vmlal_s16(a2, vget_low_s16(d1), vget_low_s16(w1));
            a3 = vmlal_high_s16(a3, d1, w1);
          }
        }
        const uint8x8_t q0 = pack8(requant4(a0, scale + c, lo, hi, zp), requant4(a1, scale + c + 4, lo, hi, zp));
        const uint8x8_t q1 = pack8(requant4(a2, scale + c + 8, lo, hi, zp), requant4(a3, scale + c + 12, lo, hi, zp));
        vst1q_u8(yp + c, vcombine_u8(q0, q1));
      }
      if (c + 8 <= p.ce) {
        int32x4_t a0 = vld1q_s32(bias + c), a1 = vld1q_s32(bias + c + 4);
        for (int64_t i = t.i0; i < t.i1; ++i) {
          const int64_t xr = ((ih0 + i * p.dh) * p.w + iw0) * C + c;
          const int16_t* wr = w + i * p.kw * C + c;
          for (int64_t j = t.j0; j < t.j1; ++j) {
            const int16x8_t d = vreinterpretq_s16_u16(vsubl_u8(vld1_u8(x + (xr + j * p.dw * C)), z8));
            const int16x8_t wv = vld1q_s16(wr + j * C);
            a0 = vmlal_s16(a0, vget_low_s16(d), vget_low_s16(wv));
            a1 = vmlal_high_s16(a1, d, wv);
          }
        }
        vst1_u8(yp + c, pack8(requant4(a0, scale + c, lo, hi, zp), requant4(a1, scale + c + 4, lo, hi, zp)));
        c += 8;
      }
      dwnhwc::qdw_channels(p, t, x, zx, w, bias, scale, rq, ih0, iw0, c, p.ce, yp);  // the last < 8: the reference
    }
}

}  // namespace pyrt::kernels::arm
