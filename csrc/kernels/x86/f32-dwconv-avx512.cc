// Depthwise convolution of one channel with AVX-512F: the AVX2 kernel's scheme (zero-padded stride-phase
// plane; narrow outputs on a virtual grid) with 16 lanes and masked tails instead of scalar ones. Taps in
// (i, j) order with FMA: bit-identical to kernels/ref/f32-dwconv-ref.cc.
#include <immintrin.h>

#include <cstring>

#include "kernels/dwconv_plane.h"
#include "kernels/x86/x86.h"

namespace pyrt::kernels::x86 {
using namespace dwplane;

namespace {

inline __mmask16 tail_mask(int64_t n) { return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1); }

// Output positions [t, t + n) (n <= 32) of a line whose taps read plane + tap[k] + t.
inline void line(const float* plane, const int64_t* tap, int64_t taps, const float* w, __m512 vb, int64_t t,
                 int64_t n, float* out) {
  const __mmask16 m0 = tail_mask(n), m1 = tail_mask(n > 16 ? n - 16 : 0);
  __m512 a0 = vb, a1 = vb;
  for (int64_t k = 0; k < taps; ++k) {
    const __m512 wk = _mm512_set1_ps(w[k]);
    const float* src = plane + tap[k] + t;
    a0 = _mm512_fmadd_ps(wk, _mm512_maskz_loadu_ps(m0, src), a0);
    if (n > 16) a1 = _mm512_fmadd_ps(wk, _mm512_maskz_loadu_ps(m1, src + 16), a1);
  }
  _mm512_mask_storeu_ps(out + t, m0, a0);
  if (n > 16) _mm512_mask_storeu_ps(out + t + 16, m1, a1);
}

}  // namespace

void dwconv_avx512(const DwConvParams& p, const float* x, const float* w, float bias, float* y, float* scratch) {
  const bool flat = p.ow < 32;  // narrow rows: one virtual grid instead of per-row tails
  const int64_t s = p.sw, qw = (padded_w(p) + s - 1) / s + (flat ? 0 : 16);
  const int64_t plane_floats = padded_h(p) * s * qw + 64;
  fill(p, x, qw, plane_floats, scratch, copy_row_phases_avx2);
  const int64_t taps = p.kh * p.kw, pitch = p.sh * s * qw;
  int64_t tap_stack[64];
  int64_t* tap = taps <= 64 ? tap_stack : new int64_t[size_t(taps)];
  tap_offsets(p, qw, tap);
  const __m512 vb = _mm512_set1_ps(bias);
  if (flat) {
    float* tmp = scratch + plane_floats;
    const int64_t total = (p.oh - 1) * pitch + p.ow;
    for (int64_t t = 0; t < total; t += 32) line(scratch, tap, taps, w, vb, t, total - t < 32 ? total - t : 32, tmp);
    for (int64_t oh = 0; oh < p.oh; ++oh) std::memcpy(y + oh * p.ow, tmp + oh * pitch, size_t(p.ow) * sizeof(float));
  } else {
    for (int64_t oh = 0; oh < p.oh; ++oh)
      for (int64_t ow = 0; ow < p.ow; ow += 32)
        line(scratch + oh * pitch, tap, taps, w, vb, ow, p.ow - ow < 32 ? p.ow - ow : 32, y + oh * p.ow);
  }
  if (tap != tap_stack) delete[] tap;
}

}  // namespace pyrt::kernels::x86
