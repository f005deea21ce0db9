// The loop nest shared by the SIMD NHWC depthwise kernels, over a per-ISA vector type. Functions are `static`
// so each ISA translation unit (built with its own -m flags) keeps a private copy (see dwconv_plane.h).
//
// V provides: type T; kLanes; kP (pixels) and kQ (channel vectors) of the register block; zero(); set1(f); load(p, n) (first n <= kLanes lanes, the rest 0);
// store(p, v, n) (first n lanes); fma(a, b, c) = a*b + c rounded once; max(a, b) / min(a, b) returning b
// when a is NaN (x86 max_ps, ARM maxnm: the reference's fmax semantics for ReLU / Clip).
//
// Vectors run along channels; kP pixels x kQ vectors are computed at once (independent FMA chains hide the
// FMA latency; each weight load serves kP pixels). Pixels whose window is cut by the border take the one-pixel path with their own
// tap range, so out-of-range taps are skipped exactly as in kernels/ref/f32-dwconv-nhwc-ref.cc.
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/dispatch.h"

// The accumulator arrays must be fully unrolled to stay in registers (GCC otherwise keeps them on the stack
// and stores after every FMA).
#if defined(__clang__)
#define PYRT_UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define PYRT_UNROLL _Pragma("GCC unroll 16")
#else
#define PYRT_UNROLL
#endif

namespace pyrt::kernels::dwnhwc {

// Taps t in [t0, t1) of a window starting at `base` (stride d, k taps) that land inside [0, n).
static inline void tap_range(int64_t base, int64_t d, int64_t k, int64_t n, int64_t& t0, int64_t& t1) {
  t0 = base >= 0 ? 0 : (-base + d - 1) / d;
  t1 = base >= n ? 0 : (n - base + d - 1) / d;
  if (t1 > k) t1 = k;
  if (t0 > t1) t0 = t1;
}

// The taps of output pixel (oh, ow) inside x: rows [i0, i1), columns [j0, j1) (the int8 kernels' one-pixel
// path).
struct Taps {
  int64_t i0, i1, j0, j1;
};
static inline Taps taps(const DwNhwcParams& p, int64_t oh, int64_t ow) {
  Taps t;
  tap_range(oh * p.sh - p.pt, p.dh, p.kh, p.h, t.i0, t.i1);
  tap_range(ow * p.sw - p.pl, p.dw, p.kw, p.w, t.j0, t.j1);
  return t;
}

// The u8 depthwise reference formula (kernels/ref/qu8-ref.cc) for channels [c0, c1) of one output pixel whose
// window starts at input (ih0, iw0) with taps t inside: the channel tails of the SIMD int8 kernels.
static inline void qdw_channels(const DwNhwcParams& p, const Taps& t, const uint8_t* x, int32_t zx, const int16_t* w,
                                const int32_t* bias, const float* scale, const QRequant& rq, int64_t ih0,
                                int64_t iw0, int64_t c0, int64_t c1, uint8_t* yp) {
  for (int64_t c = c0; c < c1; ++c) {
    int32_t acc = bias[c];
    for (int64_t i = t.i0; i < t.i1; ++i)
      for (int64_t j = t.j0; j < t.j1; ++j)
        acc += (int32_t(x[((ih0 + i * p.dh) * p.w + iw0 + j * p.dw) * p.c + c]) - zx) *
               int32_t(w[(i * p.kw + j) * p.c + c]);
    yp[c] = requant_one(acc, scale[c], rq);
  }
}

// P output pixels (input windows sw apart, same tap ranges) x Q channel vectors from channel c, the last vector
// holding n lanes: P*Q independent FMA chains, each weight load shared by the P pixels.
template <class V, int P, int Q>
static inline void block(const DwNhwcParams& p, const float* x, const float* w, const float* bias, bool clamp,
                         typename V::T vlo, typename V::T vhi, int64_t i0, int64_t i1, int64_t ih0, int64_t j0,
                         int64_t j1, int64_t iw0, float* y, int64_t c, int64_t n) {
  using T = typename V::T;
  const int64_t C = p.c, xs = p.sw * C, L = V::kLanes;
  auto lanes = [&](int q) { return q == Q - 1 ? n : L; };
  T acc[P][Q];
  PYRT_UNROLL
  for (int q = 0; q < Q; ++q) {
    const T b = bias ? V::load(bias + c + q * L, lanes(q)) : V::zero();
    PYRT_UNROLL
    for (int k = 0; k < P; ++k) acc[k][q] = b;
  }
  for (int64_t i = i0; i < i1; ++i) {
    const float* xr = x + ((ih0 + i * p.dh) * p.w + iw0) * C + c;
    const float* wr = w + i * p.kw * C + c;
    for (int64_t j = j0; j < j1; ++j) {
      const float* xp = xr + j * p.dw * C;
      PYRT_UNROLL
      for (int q = 0; q < Q; ++q) {
        const T wv = V::load(wr + j * C + q * L, lanes(q));
        PYRT_UNROLL
        for (int k = 0; k < P; ++k) acc[k][q] = V::fma(wv, V::load(xp + k * xs + q * L, lanes(q)), acc[k][q]);
      }
    }
  }
  PYRT_UNROLL
  for (int k = 0; k < P; ++k)
    PYRT_UNROLL
    for (int q = 0; q < Q; ++q)
      V::store(y + k * C + c + q * L, clamp ? V::min(V::max(acc[k][q], vlo), vhi) : acc[k][q], lanes(q));
}

// One output row, channels [c, c + Q vectors) (last vector n lanes): V::kP pixels at a time where their
// windows are whole, then 2, and single pixels (with their own tap range) at the borders.
template <class V, int Q>
static inline void row(const DwNhwcParams& p, const float* x, const float* w, const float* bias, bool clamp,
                       typename V::T vlo, typename V::T vhi, int64_t i0, int64_t i1, int64_t ih0, float* yr, int64_t c,
                       int64_t n) {
  const int64_t last_tap = (p.kw - 1) * p.dw;
  for (int64_t ow = 0; ow < p.ow;) {
    const int64_t iw0 = ow * p.sw - p.pl;
    // Windows move right with ow: if the first is not cut on the left and the last of a group not on the
    // right, none in between is.
    auto inside = [&](int64_t k) { return iw0 >= 0 && ow + k <= p.ow && iw0 + (k - 1) * p.sw + last_tap < p.w; };
    float* yo = yr + ow * p.c;
    if (inside(V::kP)) {
      block<V, V::kP, Q>(p, x, w, bias, clamp, vlo, vhi, i0, i1, ih0, 0, p.kw, iw0, yo, c, n);
      ow += V::kP;
    } else if (inside(2)) {
      block<V, 2, Q>(p, x, w, bias, clamp, vlo, vhi, i0, i1, ih0, 0, p.kw, iw0, yo, c, n);
      ow += 2;
    } else {
      int64_t j0, j1;
      tap_range(iw0, p.dw, p.kw, p.w, j0, j1);
      block<V, 1, Q>(p, x, w, bias, clamp, vlo, vhi, i0, i1, ih0, j0, j1, iw0, yo, c, n);
      ow += 1;
    }
  }
}

// The channels left after the last whole block, (ce - c) <= Q vectors: one block of as many vectors as needed.
template <class V, int Q>
static inline void tail(const DwNhwcParams& p, const float* x, const float* w, const float* bias, bool clamp,
                        typename V::T vlo, typename V::T vhi, int64_t i0, int64_t i1, int64_t ih0, float* yr, int64_t c) {
  const int64_t left = p.ce - c, L = V::kLanes;
  if constexpr (Q > 1) {
    if (left <= (Q - 1) * L) return tail<V, Q - 1>(p, x, w, bias, clamp, vlo, vhi, i0, i1, ih0, yr, c);
  }
  row<V, Q>(p, x, w, bias, clamp, vlo, vhi, i0, i1, ih0, yr, c, left - (Q - 1) * L);
}

// Loop order: output row, then blocks of V::kQ channel vectors, then pixels: a block's weights (taps x kQ
// vectors) and the input windows it slides over stay in L1 while the row is swept (pixel-outer order
// re-read every weight from L2 for each pixel).
template <class V>
static inline void rows(const DwNhwcParams& p, const float* x, const float* w, const float* bias, const ActParams& act,
                        float* y, int64_t oh0, int64_t oh1) {
  const bool clamp = act.act == Act::kRelu || act.act == Act::kClip;
  const typename V::T vlo = V::set1(act.act == Act::kClip ? act.p0 : 0.f);
  const typename V::T vhi = V::set1(act.act == Act::kClip ? act.p1 : INFINITY);
  const int64_t L = V::kLanes, B = V::kQ * L;
  for (int64_t oh = oh0; oh < oh1; ++oh) {
    const int64_t ih0 = oh * p.sh - p.pt;
    int64_t i0, i1;
    tap_range(ih0, p.dh, p.kh, p.h, i0, i1);
    float* yr = y + oh * p.ow * p.c;
    int64_t c = p.cb;
    for (; c + B <= p.ce; c += B) row<V, V::kQ>(p, x, w, bias, clamp, vlo, vhi, i0, i1, ih0, yr, c, L);
    if (c < p.ce) tail<V, V::kQ>(p, x, w, bias, clamp, vlo, vhi, i0, i1, ih0, yr, c);
  }
}

}  // namespace pyrt::kernels::dwnhwc
