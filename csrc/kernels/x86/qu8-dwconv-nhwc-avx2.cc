// u8 depthwise convolution, channels last, with AVX2: 16 channels a vector, 32 a step. (x - zx) in [-255, 255]
// times a weight in [-128, 127] fits int16 exactly, so vpmullw; the products are widened without a shuffle by
// splitting even and odd channels (vpmaddwd with 1 / vpsrad 16) into two int32 accumulators, re-interleaved once
// per pixel. A 16- and an 8-channel step, then the scalar formula for the last < 8 channels.
#include <immintrin.h>

#include "kernels/dwconv_nhwc.h"
#include "kernels/ref/ref.h"
#include "kernels/x86/x86.h"

namespace pyrt::kernels::x86 {
namespace {

using dwnhwc::Taps;
using dwnhwc::taps;

inline __m256i requant8(__m256i acc, const float* scale, __m256 lo, __m256 hi, __m256i zp) {
  const __m256 v = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(acc), _mm256_loadu_ps(scale)), lo), hi);
  return _mm256_add_epi32(_mm256_cvtps_epi32(v), zp);  // round to nearest even (MXCSR default)
}

// V x 16 channels [c, c + 16 V) of one output pixel (V = 2: more independent work per tap).
template <int V>
inline void block(const DwNhwcParams& p, const Taps& t, const uint8_t* x, int64_t ih0, int64_t iw0, const int16_t* w,
                  int64_t c, __m256i zx16, const int32_t* bias, const float* scale, __m256 lo, __m256 hi, __m256i zp,
                  uint8_t* yp) {
  const int64_t C = p.c;
  const __m256i one = _mm256_set1_epi32(1);
  __m256i even[V], odd[V];
#pragma GCC unroll 2
  for (int v = 0; v < V; ++v) even[v] = odd[v] = _mm256_setzero_si256();
  for (int64_t i = t.i0; i < t.i1; ++i) {
    const int64_t xr = ((ih0 + i * p.dh) * p.w + iw0) * C + c;  // index (may be < 0 before the 1st tap)
    const int16_t* wr = w + i * p.kw * C + c;
    for (int64_t j = t.j0; j < t.j1; ++j) {
      const uint8_t* xp = x + (xr + j * p.dw * C);
#pragma GCC unroll 2
      for (int v = 0; v < V; ++v) {
        const __m256i xv = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(xp + 16 * v)));
        const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wr + j * C + 16 * v));
        const __m256i prod = _mm256_mullo_epi16(_mm256_sub_epi16(xv, zx16), wv);  // exact: |prod| <= 32640
        even[v] = _mm256_add_epi32(even[v], _mm256_madd_epi16(prod, one));  // low word of each dword, sign-extended
        odd[v] = _mm256_add_epi32(odd[v], _mm256_srai_epi32(prod, 16));
      }
    }
  }
#pragma GCC unroll 2
  for (int v = 0; v < V; ++v) {
    const int64_t cv = c + 16 * v;
    // [e0 o0 e1 o1 | e4 o4 e5 o5] and [e2 o2 e3 o3 | e6 o6 e7 o7] -> channels 0-7 and 8-15 in order
    const __m256i u0 = _mm256_unpacklo_epi32(even[v], odd[v]), u1 = _mm256_unpackhi_epi32(even[v], odd[v]);
    __m256i a0 = _mm256_permute2x128_si256(u0, u1, 0x20), a1 = _mm256_permute2x128_si256(u0, u1, 0x31);
    a0 = _mm256_add_epi32(a0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bias + cv)));
    a1 = _mm256_add_epi32(a1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bias + cv + 8)));
    const __m256i q = _mm256_permute4x64_epi64(
        _mm256_packs_epi32(requant8(a0, scale + cv, lo, hi, zp), requant8(a1, scale + cv + 8, lo, hi, zp)), 0xD8);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(yp + cv),
                     _mm_packus_epi16(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1)));
  }
}

}  // namespace

void qdwconv_nhwc_avx2(const DwNhwcParams& p, const uint8_t* x, int32_t zx, const int16_t* w, const int32_t* bias,
                       const float* scale, const QRequant& rq, uint8_t* y, int64_t oh0, int64_t oh1) {
  // (x - zx) * w fits int16 only for a u8 zero point
  if (zx < 0 || zx > 255) return ref::qdwconv_nhwc(p, x, zx, w, bias, scale, rq, y, oh0, oh1);
  const __m256 lo = _mm256_set1_ps(rq.lo), hi = _mm256_set1_ps(rq.hi);
  const __m256i zp = _mm256_set1_epi32(rq.zp), zx16 = _mm256_set1_epi16(int16_t(zx));
  const int64_t C = p.c;
  for (int64_t oh = oh0; oh < oh1; ++oh)
    for (int64_t ow = 0; ow < p.ow; ++ow) {
      const Taps t = taps(p, oh, ow);
      const int64_t ih0 = oh * p.sh - p.pt, iw0 = ow * p.sw - p.pl;
      uint8_t* yp = y + (oh * p.ow + ow) * C;
      int64_t c = p.cb;
      for (; c + 32 <= p.ce; c += 32) block<2>(p, t, x, ih0, iw0, w, c, zx16, bias, scale, lo, hi, zp, yp);
      if (c + 16 <= p.ce) block<1>(p, t, x, ih0, iw0, w, c, zx16, bias, scale, lo, hi, zp, yp), c += 16;
      if (c + 8 <= p.ce) {
        __m256i acc = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bias + c));
        for (int64_t i = t.i0; i < t.i1; ++i) {
          const int64_t xr = ((ih0 + i * p.dh) * p.w + iw0) * C + c;  // index (may be < 0 before the 1st tap)
          const int16_t* wr = w + i * p.kw * C + c;
          for (int64_t j = t.j0; j < t.j1; ++j) {
            const uint8_t* xp = x + (xr + j * p.dw * C);
            const __m128i xv = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(xp)));
            const __m128i wv = _mm_loadu_si128(reinterpret_cast<const __m128i*>(wr + j * C));
            const __m128i prod = _mm_mullo_epi16(_mm_sub_epi16(xv, _mm256_castsi256_si128(zx16)), wv);
            acc = _mm256_add_epi32(acc, _mm256_cvtepi16_epi32(prod));
          }
        }
        const __m256i r = requant8(acc, scale + c, lo, hi, zp);
        const __m128i h = _mm_packs_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
        _mm_storel_epi64(reinterpret_cast<__m128i*>(yp + c), _mm_packus_epi16(h, h));
        c += 8;
      }
      dwnhwc::qdw_channels(p, t, x, zx, w, bias, scale, rq, ih0, iw0, c, p.ce, yp);  // the last < 8: the reference
    }
}

}  // namespace pyrt::kernels::x86
