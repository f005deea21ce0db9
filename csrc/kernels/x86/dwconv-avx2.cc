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
}  // namespace

void dwconv_avx2(const DwConvParams& p, const float* x, const float* w, float bias, float* y, float* scratch) {
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
    if (s == 1) {
      if (c1 > c0) std::memcpy(base + c0, xr + (c0 - p.pl), size_t(c1 - c0) * sizeof(float));
    } else {
      for (int64_t c = c0; c < c1; ++c) base[(c % s) * qw + c / s] = xr[c - p.pl];
    }
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
