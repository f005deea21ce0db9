// Depthwise convolution of one channel with AVX2+FMA, 8 output columns per step. The channel is first copied
// into a zero-padded plane split into `sw` column phases (phase q holds padded columns q, q+sw, ...), so that
// every tap of 8 consecutive outputs is one contiguous load whatever the stride, and no bounds checks remain
// in the inner loop. Taps accumulate in (i, j) order with FMA: bit-identical to kernels/ref/f32-dwconv-ref.cc.
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "kernels/dwconv_plane.h"
#include "kernels/x86/x86.h"

namespace pyrt::kernels::x86 {
using namespace dwplane;

// copy_row_phases with an AVX2 deinterleave for stride 2 (the copy dominated strided depthwise convs):
// 16 input floats -> 8 even-phase + 8 odd-phase floats per step.
void copy_row_phases_avx2(const float* xr, int64_t pl, int64_t c0, int64_t c1, int64_t s, int64_t qw,
                          float* base) {
  if (s != 2 || c1 - c0 < 24) return copy_row_phases(xr, pl, c0, c1, s, qw, base);
  int64_t c = c0;
  if (c & 1) {  // start on an even padded column
    base[qw + c / 2] = xr[c - pl];
    ++c;
  }
  float* even = base;
  float* odd = base + qw;
  const __m256i order = _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7);
  for (; c + 16 <= c1; c += 16) {
    const __m256 a = _mm256_loadu_ps(xr + (c - pl)), b = _mm256_loadu_ps(xr + (c - pl) + 8);
    const __m256 ev = _mm256_permutevar8x32_ps(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)), order);
    const __m256 od = _mm256_permutevar8x32_ps(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)), order);
    _mm256_storeu_ps(even + c / 2, ev);
    _mm256_storeu_ps(odd + c / 2, od);
  }
  for (; c < c1; ++c) base[(c & 1) * qw + c / 2] = xr[c - pl];
}

namespace {

// Narrow outputs (OW < 16, the late stages of CNNs: 14x14, 7x7): rows would be mostly scalar tails. Instead
// the output is computed on a "virtual" grid whose row pitch is the scratch plane's distance between two
// output rows, so that the flattened index maps linearly onto the plane for every tap; all lanes are vector
// lanes, the columns past OW are computed and dropped. Same taps, same order, same FMAs as the reference.
void dwconv_flat(const DwConvParams& p, const float* x, const float* w, float bias, float* y, float* scratch) {
  const int64_t s = p.sw, qw = (padded_w(p) + s - 1) / s;
  const int64_t plane_floats = padded_h(p) * s * qw + 32;  // + slack read by the last vector loads
  fill(p, x, qw, plane_floats, scratch, copy_row_phases_avx2);
  const int64_t taps = p.kh * p.kw, pitch = p.sh * s * qw;
  int64_t tap_stack[64];
  int64_t* tap = taps <= 64 ? tap_stack : new int64_t[size_t(taps)];
  tap_offsets(p, qw, tap);
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
  const int64_t s = p.sw, qw = (padded_w(p) + s - 1) / s + 16;  // phase row width, with slack
  fill(p, x, qw, padded_h(p) * s * qw, scratch, copy_row_phases_avx2);
  // Offsets of every tap in the plane, relative to output (0, 0): computed once, no divisions in the loop.
  const int64_t taps = p.kh * p.kw;
  int64_t tap_stack[64];
  int64_t* tap = taps <= 64 ? tap_stack : new int64_t[size_t(taps)];
  tap_offsets(p, qw, tap);
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
