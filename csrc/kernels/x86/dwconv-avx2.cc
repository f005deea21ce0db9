// Depthwise convolution of one channel with AVX2+FMA, 8 output columns per step. The channel is first copied
// into a zero-padded plane split into `sw` column phases (phase q holds padded columns q, q+sw, ...), so that
// every tap of 8 consecutive outputs is one contiguous load whatever the stride, and no bounds checks remain
// in the inner loop. Taps accumulate in (i, j) order with FMA: bit-identical to kernels/ref/dwconv.cc.
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "kernels/x86/x86.h"

namespace pyrt::kernels::x86 {
namespace {
// Local helpers instead of std::min/max: template code instantiated in a TU built with -mavx2 could be
// merged by the linker with the generic build's copy and then run on a CPU without AVX2.
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

namespace {

// Narrow outputs (OW < 16, the late stages of CNNs: 14x14, 7x7): rows would be mostly scalar tails. Instead
// the output is computed on a "virtual" grid whose row pitch is the scratch plane's distance between two
// output rows, so that the flattened index maps linearly onto the plane for every tap; all lanes are vector
// lanes, the columns past OW are computed and dropped. Same taps, same order, same FMAs as the reference.
void dwconv_flat(const DwConvParams& p, const float* x, const float* w, float bias, float* y, float* scratch) {
  const int64_t ph = (p.oh - 1) * p.sh + (p.kh - 1) * p.dh + 1;
  const int64_t pw = (p.ow - 1) * p.sw + (p.kw - 1) * p.dw + 1;
  const int64_t s = p.sw, qw = (pw + s - 1) / s;
  const int64_t plane_floats = ph * s * qw + 32;  // + slack read by the last vector loads
  std::memset(scratch, 0, size_t(plane_floats) * sizeof(float));
  for (int64_t r = 0; r < ph; ++r) {
    const int64_t ih = r - p.pt;
    if (ih < 0 || ih >= p.h) continue;
    const float* xr = x + ih * p.w;
    float* base = scratch + r * s * qw;
    const int64_t c0 = imax(0, p.pl), c1 = imin(pw, p.pl + p.w);
    copy_row_phases(xr, p.pl, c0, c1, s, qw, base);
  }
  const int64_t taps = p.kh * p.kw, pitch = p.sh * s * qw;
  int64_t tap_stack[64];
  int64_t* tap = taps <= 64 ? tap_stack : new int64_t[size_t(taps)];
  for (int64_t i = 0; i < p.kh; ++i)
    for (int64_t j = 0; j < p.kw; ++j) {
      const int64_t off = j * p.dw;
      tap[i * p.kw + j] = i * p.dh * s * qw + (off % s) * qw + off / s;
    }
  float* tmp = scratch + plane_floats;
  const int64_t total = (p.oh - 1) * pitch + p.ow;
  const __m256 vb = _mm256_set1_ps(bias);
  int64_t t = 0;
  for (; t + 16 <= total; t += 16) {
    __m256 a0 = vb, a1 = vb;
    for (int64_t k = 0; k < taps; ++k) {
      const __m256 wk = _mm256_broadcast_ss(w + k);
      a0 = _mm256_fmadd_ps(wk, _mm256_loadu_ps(scratch + tap[k] + t), a0);
      a1 = _mm256_fmadd_ps(wk, _mm256_loadu_ps(scratch + tap[k] + t + 8), a1);
    }
    _mm256_storeu_ps(tmp + t, a0);
    _mm256_storeu_ps(tmp + t + 8, a1);
  }
  for (; t < total; t += 8) {  // may run up to 7 lanes past `total` (into slack)
    __m256 acc = vb;
    for (int64_t k = 0; k < taps; ++k)
      acc = _mm256_fmadd_ps(_mm256_broadcast_ss(w + k), _mm256_loadu_ps(scratch + tap[k] + t), acc);
    _mm256_storeu_ps(tmp + t, acc);
  }
  for (int64_t oh = 0; oh < p.oh; ++oh) std::memcpy(y + oh * p.ow, tmp + oh * pitch, size_t(p.ow) * sizeof(float));
  if (tap != tap_stack) delete[] tap;
}

}  // namespace

void dwconv_avx2(const DwConvParams& p, const float* x, const float* w, float bias, float* y, float* scratch) {
  if (p.ow < 16) return dwconv_flat(p, x, w, bias, y, scratch);
  const int64_t ph = (p.oh - 1) * p.sh + (p.kh - 1) * p.dh + 1;
  const int64_t pw = (p.ow - 1) * p.sw + (p.kw - 1) * p.dw + 1;
  const int64_t s = p.sw, qw = (pw + s - 1) / s + 16;  // phase row width, with slack
  // padded[r][c] = x[r - pt][c - pl]; stored at scratch[(r * s + c % s) * qw + c / s]
  std::memset(scratch, 0, size_t(ph * s * qw) * sizeof(float));
  for (int64_t r = 0; r < ph; ++r) {
    const int64_t ih = r - p.pt;
    if (ih < 0 || ih >= p.h) continue;
    const float* xr = x + ih * p.w;
    float* base = scratch + r * s * qw;
    const int64_t c0 = imax(0, p.pl), c1 = imin(pw, p.pl + p.w);
    copy_row_phases(xr, p.pl, c0, c1, s, qw, base);
  }
  // Offsets of every tap inside the phase-split plane, relative to output (oh, ow) = (0, 0); computed once
  // so that the inner loop has no divisions.
  const int64_t taps = p.kh * p.kw;
  int64_t tap_stack[64];
  int64_t* tap = taps <= 64 ? tap_stack : new int64_t[size_t(taps)];
  for (int64_t i = 0; i < p.kh; ++i)
    for (int64_t j = 0; j < p.kw; ++j) {
      const int64_t off = j * p.dw;
      tap[i * p.kw + j] = i * p.dh * s * qw + (off % s) * qw + off / s;
    }
  const __m256 vb = _mm256_set1_ps(bias);
  for (int64_t oh = 0; oh < p.oh; ++oh) {
    float* yr = y + oh * p.ow;
    const float* plane = scratch + oh * p.sh * s * qw;
    int64_t ow = 0;
    for (; ow + 16 <= p.ow; ow += 16) {  // two independent accumulators hide the FMA latency
      __m256 a0 = vb, a1 = vb;
      for (int64_t k = 0; k < taps; ++k) {
        const __m256 wk = _mm256_broadcast_ss(w + k);
        const float* src = plane + tap[k] + ow;
        a0 = _mm256_fmadd_ps(wk, _mm256_loadu_ps(src), a0);
        a1 = _mm256_fmadd_ps(wk, _mm256_loadu_ps(src + 8), a1);
      }
      _mm256_storeu_ps(yr + ow, a0);
      _mm256_storeu_ps(yr + ow + 8, a1);
    }
    for (; ow + 8 <= p.ow; ow += 8) {
      __m256 acc = vb;
      for (int64_t k = 0; k < taps; ++k)
        acc = _mm256_fmadd_ps(_mm256_broadcast_ss(w + k), _mm256_loadu_ps(plane + tap[k] + ow), acc);
      _mm256_storeu_ps(yr + ow, acc);
    }
    for (; ow < p.ow; ++ow) {  // tail columns: the same taps, one at a time
      float acc = bias;
      for (int64_t k = 0; k < taps; ++k) acc = std::fma(w[k], plane[tap[k] + ow], acc);
      yr[ow] = acc;
    }
  }
  if (tap != tap_stack) delete[] tap;
}

}  // namespace pyrt::kernels::x86
