// The scalar half of the SIMD depthwise kernels: the zero-padded, stride-phase-split copy of one channel and
// the offsets of every tap in it. Functions are `static` so that each ISA translation unit (built with its
// own -m flags) keeps a private copy: nothing compiled for AVX2 can be shared with generic code by the linker.
#pragma once
#include <cstdint>
#include <cstring>

#include "kernels/dispatch.h"

namespace pyrt::kernels::dwplane {

static inline int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }
static inline int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }

// Padded rows / columns the kernel reads.
static inline int64_t padded_h(const DwConvParams& p) { return (p.oh - 1) * p.sh + (p.kh - 1) * p.dh + 1; }
static inline int64_t padded_w(const DwConvParams& p) { return (p.ow - 1) * p.sw + (p.kw - 1) * p.dw + 1; }

// Padded columns [c0, c1) of one input row xr (padded column c is xr[c - pl]) into `s` phase rows of width qw:
// phase q holds columns q, q + s, ... No division per element (this copy is much of a strided conv's time).
static inline void copy_row_phases(const float* xr, int64_t pl, int64_t c0, int64_t c1, int64_t s, int64_t qw,
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

// A per-ISA row copy with copy_row_phases' contract (e.g. a vector deinterleave for stride 2).
using RowCopy = void (*)(const float* xr, int64_t pl, int64_t c0, int64_t c1, int64_t s, int64_t qw, float* base);

// Zeroes `floats` of scratch and copies the channel in: padded row r, column c lands at
// scratch[(r * sw + c % sw) * qw + c / sw].
static inline void fill(const DwConvParams& p, const float* x, int64_t qw, int64_t floats, float* scratch,
                        RowCopy copy = copy_row_phases) {
  const int64_t ph = padded_h(p), pw = padded_w(p), s = p.sw;
  std::memset(scratch, 0, size_t(floats) * sizeof(float));
  for (int64_t r = 0; r < ph; ++r) {
    const int64_t ih = r - p.pt;
    if (ih < 0 || ih >= p.h) continue;
    copy(x + ih * p.w, p.pl, imax(0, p.pl), imin(pw, p.pl + p.w), s, qw, scratch + r * s * qw);
  }
}

// Offset of tap (i, j) from the plane position of output (0, 0), for taps i * kw + j.
static inline void tap_offsets(const DwConvParams& p, int64_t qw, int64_t* tap) {
  const int64_t s = p.sw;
  for (int64_t i = 0; i < p.kh; ++i)
    for (int64_t j = 0; j < p.kw; ++j) {
      const int64_t off = j * p.dw;
      tap[i * p.kw + j] = i * p.dh * s * qw + (off % s) * qw + off / s;
    }
}

}  // namespace pyrt::kernels::dwplane
