// Rows quantized each with its own parameters, and the int8-weights GEMM's rows finished (see QuantizeRowsU8Fn
// and FinishRowsFn), with NEON: the reference's float operations lane by lane (fminnm / fmaxnm ignore NaN as the
// reference does, a true division, fcvtns rounding to nearest even, the same two fmas), so results are
// bit-identical. Tails go through a zeroed block of 4: zeros change neither min(x, 0) nor max(x, 0).
#include <arm_neon.h>

#include <cstring>

#include "kernels/arm/arm.h"
#include "kernels/ref/ref.h"

namespace pyrt::kernels::arm {

void quantize_rows_u8_neon(const float* x, size_t m, size_t k, size_t ldx, uint8_t* y, size_t ldy, QParams* q) {
  const size_t full = k / 4 * 4;
  for (size_t r = 0; r < m; ++r) {
    const float* xr = x + r * ldx;
    float tail[4] = {0.f, 0.f, 0.f, 0.f};
    std::memcpy(tail, xr + full, (k - full) * sizeof(float));
    float32x4_t lo = vdupq_n_f32(0.f), hi = vdupq_n_f32(0.f), nf = vdupq_n_f32(0.f);
    for (size_t i = 0; i < full; i += 4) {
      const float32x4_t v = vld1q_f32(xr + i);
      lo = vminnmq_f32(lo, v), hi = vmaxnmq_f32(hi, v);
      nf = vaddq_f32(nf, vmulq_n_f32(v, 0.f));  // NaN once a NaN or an infinity was seen
    }
    const float32x4_t t = vld1q_f32(tail);
    lo = vminnmq_f32(lo, t), hi = vmaxnmq_f32(hi, t), nf = vaddq_f32(nf, vmulq_n_f32(t, 0.f));
    const bool finite = vminvq_u32(vceqq_f32(nf, nf)) != 0;  // every lane equal to itself: no NaN
    q[r] = row_qparams(vminnmvq_f32(lo), vmaxnmvq_f32(hi), finite);
    const float32x4_t s = vdupq_n_f32(q[r].scale), vlo = vdupq_n_f32(float(-q[r].zp)),
                      vhi = vdupq_n_f32(float(255 - q[r].zp));
    const int32x4_t zp = vdupq_n_s32(q[r].zp);
    uint8_t* yr = y + r * ldy;
    auto one = [&](float32x4_t v) {  // 4 lanes -> 4 bytes
      const int32x4_t i = vaddq_s32(vcvtnq_s32_f32(vminnmq_f32(vmaxnmq_f32(vdivq_f32(v, s), vlo), vhi)), zp);
      const uint8x8_t b = vqmovun_s16(vcombine_s16(vqmovn_s32(i), vdup_n_s16(0)));
      uint8_t o[8];
      vst1_u8(o, b);
      return o[0] | uint32_t(o[1]) << 8 | uint32_t(o[2]) << 16 | uint32_t(o[3]) << 24;
    };
    for (size_t i = 0; i < full; i += 4) {
      const uint32_t w = one(vld1q_f32(xr + i));
      std::memcpy(yr + i, &w, 4);
    }
    if (full < k) {
      const uint32_t w = one(vld1q_f32(tail));
      std::memcpy(yr + full, &w, k - full);
    }
    std::memset(yr + k, 0, ldy - k);
  }
}

void finish_rows_neon(float* y, size_t m, size_t n, size_t ldy, const QParams* q, int32_t zfold, const float* wsum,
                      const float* bias, float lo, float hi) {
  const size_t full = n / 4 * 4;
  const float32x4_t vlo = vdupq_n_f32(lo), vhi = vdupq_n_f32(hi);
  for (size_t r = 0; r < m; ++r) {
    float* yr = y + r * ldy;
    const float32x4_t dz = vdupq_n_f32(float(zfold - q[r].zp)), s = vdupq_n_f32(q[r].scale);
    for (size_t c = 0; c < full; c += 4) {
      const float32x4_t b = bias ? vld1q_f32(bias + c) : vdupq_n_f32(0.f);
      const float32x4_t v = vfmaq_f32(b, vfmaq_f32(vld1q_f32(yr + c), dz, vld1q_f32(wsum + c)), s);
      // v < lo ? lo : v > hi ? hi : v, as the reference (NaN passes; fmax / fmin would order the signed zeros)
      const float32x4_t w = vbslq_f32(vcltq_f32(v, vlo), vlo, v);
      vst1q_f32(yr + c, vbslq_f32(vcgtq_f32(w, vhi), vhi, w));
    }
    if (full < n) ref::finish_rows(yr + full, 1, n - full, ldy, q + r, zfold, wsum + full, bias ? bias + full : nullptr,
                                   lo, hi);
  }
}

}  // namespace pyrt::kernels::arm
