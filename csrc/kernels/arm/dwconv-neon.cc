// Depthwise convolution of one channel with NEON, 8 output columns per step (two q registers). Same scheme as
// the AVX2 kernel: a zero-padded, stride-phase-split copy of the channel makes every tap a contiguous load;
// taps accumulate in (i, j) order with fused multiply-adds, bit-identical to kernels/ref/dwconv.cc.
#include <arm_neon.h>

#include <cmath>
#include <cstring>

#include "kernels/arm/arm.h"

namespace pyrt::kernels::arm {
namespace {
inline int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }
inline int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
// Padded columns [c0, c1) of one input row xr (padded column c is xr[c - pl]) into `s` phase rows of width qw:
// phase q holds columns q, q + s, ... No division per element (this copy is much of a strided conv's time).
inline void copy_row_phases(const float* xr, int64_t pl, int64_t c0, int64_t c1, int64_t s, int64_t qw,
                            float* base) {
  if (c1 <= c0) return;
  if (s == 1) {
    std::memcpy(base + c0, xr + (c0 - pl), size_t(c1 - c0) * sizeof(float));
    return;
  }
  for (int64_t q = 0; q < s; ++q) {
    const int64_t lo = c0 > q ? (c0 - q + s - 1) / s : 0, hi = c1 > q ? (c1 - q + s - 1) / s : 0;
    float* dst = base + q * qw;
    for (int64_t k = lo; k < hi; ++k) dst[k] = xr[k * s + q - pl];
  }
}
}  // namespace

void dwconv_neon(const DwConvParams& p, const float* x, const float* w, float bias, float* y, float* scratch) {
  const int64_t ph = (p.oh - 1) * p.sh + (p.kh - 1) * p.dh + 1;
  const int64_t pw = (p.ow - 1) * p.sw + (p.kw - 1) * p.dw + 1;
  const int64_t s = p.sw, qw = (pw + s - 1) / s + 16;
  std::memset(scratch, 0, size_t(ph * s * qw) * sizeof(float));
  for (int64_t r = 0; r < ph; ++r) {
    const int64_t ih = r - p.pt;
    if (ih < 0 || ih >= p.h) continue;
    const float* xr = x + ih * p.w;
    float* base = scratch + r * s * qw;
    const int64_t c0 = imax(0, p.pl), c1 = imin(pw, p.pl + p.w);
    copy_row_phases(xr, p.pl, c0, c1, s, qw, base);
  }
  const int64_t taps = p.kh * p.kw;
  int64_t tap_stack[64];
  int64_t* tap = taps <= 64 ? tap_stack : new int64_t[size_t(taps)];
  for (int64_t i = 0; i < p.kh; ++i)
    for (int64_t j = 0; j < p.kw; ++j) {
      const int64_t off = j * p.dw;
      tap[i * p.kw + j] = i * p.dh * s * qw + (off % s) * qw + off / s;
    }
  const float32x4_t vb = vdupq_n_f32(bias);
  for (int64_t oh = 0; oh < p.oh; ++oh) {
    float* yr = y + oh * p.ow;
    const float* plane = scratch + oh * p.sh * s * qw;
    int64_t ow = 0;
    for (; ow + 8 <= p.ow; ow += 8) {
      float32x4_t a0 = vb, a1 = vb;
      for (int64_t k = 0; k < taps; ++k) {
        const float32x4_t wk = vdupq_n_f32(w[k]);
        const float* src = plane + tap[k] + ow;
        a0 = vfmaq_f32(a0, wk, vld1q_f32(src));
        a1 = vfmaq_f32(a1, wk, vld1q_f32(src + 4));
      }
      vst1q_f32(yr + ow, a0);
      vst1q_f32(yr + ow + 4, a1);
    }
    for (; ow < p.ow; ++ow) {
      float acc = bias;
      for (int64_t k = 0; k < taps; ++k) acc = std::fma(w[k], plane[tap[k] + ow], acc);
      yr[ow] = acc;
    }
  }
  if (tap != tap_stack) delete[] tap;
}

}  // namespace pyrt::kernels::arm
