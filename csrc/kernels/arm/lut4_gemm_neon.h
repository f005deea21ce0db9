// The shared-values (lut, 4-bit) GEMM loop of the NEON kernels, over the instruction that accumulates 16
// products (Dot::acc: widening multiplies on any ARMv8, sdot with the dotprod extension). `static` so that each
// translation unit, built with its own -march, keeps a private copy (see kernels/dwconv_plane.h).
//
// 32 weights of a row a step: its 16 code bytes, low nibbles (even k) and high nibbles (odd k) looked up with tbl
// in the row's 16-entry int8 codebook, against the activations split into even and odd bytes by ld2. The
// activations are made signed (x - 128) for the signed products; 128 * wsum puts the u8 sum back, exactly.
// 4 weight rows x 2 activation rows a tile, each output in its own int32x4, summed across lanes at the end
// (addv), then the reference's float finish.
#pragma once
#include <arm_neon.h>

#include <cmath>
#include <cstring>

#include "kernels/dispatch.h"

namespace pyrt::kernels::arm::lut4 {

template <class Dot>
static void tile(const Lut4Matrix& w, const uint8_t* x, size_t ldx, const QParams* q, size_t m0, size_t rr,
                 size_t n0, size_t nt, const float* bias, float lo, float hi, float* y, size_t ldy) {
  const size_t kb = w.k / 2, full = kb / 16 * 16;  // code bytes a row; in whole 16-byte steps
  const uint8x16_t m4 = vdupq_n_u8(0x0F), flip = vdupq_n_u8(0x80);
  int8x16_t tb[4];
  for (size_t t = 0; t < 4; ++t) tb[t] = vld1q_s8(w.table + (n0 + (t < nt ? t : 0)) * 16);
  int32x4_t acc[2][4];
  for (auto& a : acc)
    for (auto& v : a) v = vdupq_n_s32(0);
  auto step = [&](const uint8_t* const* codes, const uint8_t* const* xs, uint8x16_t keep_e, uint8x16_t keep_o) {
    int8x16_t xe[2], xo[2];
    for (size_t r = 0; r < 2; ++r) {
      const uint8x16x2_t v = vld2q_u8(xs[r]);
      xe[r] = vreinterpretq_s8_u8(veorq_u8(v.val[0], flip));
      xo[r] = vreinterpretq_s8_u8(veorq_u8(v.val[1], flip));
    }
    for (size_t t = 0; t < 4; ++t) {
      const uint8x16_t c = vld1q_u8(codes[t]);
      const int8x16_t we = vreinterpretq_s8_u8(vandq_u8(vreinterpretq_u8_s8(vqtbl1q_s8(tb[t], vandq_u8(c, m4))), keep_e));
      const int8x16_t wo = vreinterpretq_s8_u8(vandq_u8(vreinterpretq_u8_s8(vqtbl1q_s8(tb[t], vshrq_n_u8(c, 4))), keep_o));
      for (size_t r = 0; r < 2; ++r) acc[r][t] = Dot::acc(Dot::acc(acc[r][t], we, xe[r]), wo, xo[r]);
    }
  };
  const uint8x16_t all = vdupq_n_u8(0xFF);
  const uint8_t* codes[4];
  const uint8_t* xs[2];
  for (size_t b = 0; b < full; b += 16) {
    for (size_t t = 0; t < 4; ++t) codes[t] = w.codes + (n0 + (t < nt ? t : 0)) * kb + b;
    for (size_t r = 0; r < 2; ++r) xs[r] = x + (m0 + (r < rr ? r : 0)) * ldx + 2 * b;
    step(codes, xs, all, all);
  }
  if (full < kb) {  // the last codes, from zero-filled copies; weights past k are zeroed (x - 128 is not 0 there)
    const size_t cb = kb - full, xb = ldx - 2 * full < 32 ? ldx - 2 * full : 32;
    uint8_t ct[4][16] = {}, xt[2][32] = {}, ke[16], ko[16];
    for (size_t t = 0; t < 4; ++t) std::memcpy(ct[t], w.codes + (n0 + (t < nt ? t : 0)) * kb + full, cb), codes[t] = ct[t];
    for (size_t r = 0; r < 2; ++r) std::memcpy(xt[r], x + (m0 + (r < rr ? r : 0)) * ldx + 2 * full, xb), xs[r] = xt[r];
    for (size_t j = 0; j < 16; ++j) ke[j] = ko[j] = j < cb ? 0xFF : 0;
    step(codes, xs, vld1q_u8(ke), vld1q_u8(ko));
  }
  for (size_t r = 0; r < rr; ++r)
    for (size_t t = 0; t < nt; ++t) {
      const size_t m = m0 + r, n = n0 + t;
      const int32_t a = vaddvq_s32(acc[r][t]) + 128 * w.wsum[n];  // sum of (x - 128) w, plus 128 sum(w)
      float v = std::fma(float(a - q[m].zp * w.wsum[n]), q[m].scale * w.scale[n], bias ? bias[n] : 0.f);
      v = v < lo ? lo : v;
      y[m * ldy + n] = v > hi ? hi : v;
    }
}

template <class Dot>
static void gemm(const Lut4Matrix& w, const uint8_t* x, size_t ldx, const QParams* q, size_t rows, const float* bias,
                 float lo, float hi, float* y, size_t ldy, size_t n0, size_t n1) {
  for (size_t n = n0; n < n1; n += 4)
    for (size_t m = 0; m < rows; m += 2)
      tile<Dot>(w, x, ldx, q, m, rows - m < 2 ? rows - m : 2, n, n1 - n < 4 ? n1 - n : 4, bias, lo, hi, y, ldy);
}

}  // namespace pyrt::kernels::arm::lut4
