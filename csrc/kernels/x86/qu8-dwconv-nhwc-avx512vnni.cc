// u8 depthwise convolution, channels last, AVX-512 VNNI: 32 channels a step, 4 output pixels at a time in the
// interior. (x - zx) as int16 pairs of adjacent channels; vpdpwssd against the weights with the odd (then the
// even) channel's word zeroed gives each channel's exact product in its own int32 lane (even and odd channels
// in two accumulators), so a tap costs one load, one subtract and two vpdpwssd for 32 products. The even/odd
// split is undone on the bytes at the end (one unpack). Same integer sums and requantization as the
// reference: bit-exact. (A vpdpbusd variant with 4 single-byte weight masks per tap measured slower here:
// its per-tap weight preparation and 16 accumulators cost more than the widening it saves.)
#include <immintrin.h>

#include <algorithm>

#include "kernels/x86/x86.h"

namespace pyrt::kernels::x86 {
namespace {

struct Block {
  const uint8_t* x;   // image, channel c0
  const int16_t* w;   // taps, channel c0
  int64_t C, W, sw, dw, pl, kw;
  __mmask32 mb;       // valid channels of the block
  __m512i zx16, keep_lo, keep_hi;
};

// Output pixels ow .. ow+P-1 of one row (taps rows [i0, i1) at input rows ih0 + i*dh, columns [j0, j1)
// inside for all P pixels): the even- and odd-channel sums.
// Sub: subtract the zero point from x (border pixels); interior pixels take zx * (sum of the taps) off the
// bias instead, once per block.
template <int P, bool Sub>
inline void accumulate(const Block& b, int64_t ih0, int64_t dh, int64_t i0, int64_t i1, int64_t j0, int64_t j1,
                       int64_t ow, __m512i* ae, __m512i* ao) {
  for (int p = 0; p < P; ++p) ae[p] = ao[p] = _mm512_setzero_si512();
  for (int64_t i = i0; i < i1; ++i) {
    const uint8_t* xr = b.x + (ih0 + i * dh) * b.W * b.C;
    const int16_t* wr = b.w + i * b.kw * b.C;
    for (int64_t j = j0; j < j1; ++j) {
      const __m512i wv = _mm512_maskz_loadu_epi16(b.mb, wr + j * b.C);
      const __m512i we = _mm512_and_si512(wv, b.keep_lo), wo = _mm512_and_si512(wv, b.keep_hi);
#pragma GCC unroll 8
      for (int p = 0; p < P; ++p) {
        const int64_t iw = (ow + p) * b.sw - b.pl + j * b.dw;
        __m512i xv = _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(b.mb, xr + iw * b.C));
        if (Sub) xv = _mm512_sub_epi16(xv, b.zx16);
        ae[p] = _mm512_dpwssd_epi32(ae[p], xv, we);
        ao[p] = _mm512_dpwssd_epi32(ao[p], xv, wo);
      }
    }
  }
}

}  // namespace

void qdwconv_nhwc_avx512vnni(const DwNhwcParams& p, const uint8_t* x, int32_t zx, const int16_t* w,
                             const int32_t* bias, const float* scale, const QRequant& rq, uint8_t* y, int64_t oh0,
                             int64_t oh1) {
  const int64_t C = p.c, OW = p.ow;
  const __m512 lo = _mm512_set1_ps(rq.lo), hi = _mm512_set1_ps(rq.hi);
  const __m512i zp = _mm512_set1_epi32(rq.zp);
  const __m512i even_idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd_idx = _mm512_add_epi32(even_idx, _mm512_set1_epi32(1));
  // columns whose taps all lie inside x: [owa, owb)
  const int64_t owa = std::min<int64_t>(OW, (p.pl + p.sw - 1) / p.sw);
  const int64_t last = p.w - 1 - (p.kw - 1) * p.dw + p.pl;
  const int64_t owb = last < 0 ? owa : std::max(owa, std::min<int64_t>(OW, last / p.sw + 1));
  auto jrange = [&](int64_t ow, int64_t& j0, int64_t& j1) {
    const int64_t iw0 = ow * p.sw - p.pl;
    j0 = iw0 >= 0 ? 0 : (-iw0 + p.dw - 1) / p.dw;
    j1 = p.w - 1 - iw0 < 0 ? 0 : std::min<int64_t>(p.kw, (p.w - 1 - iw0) / p.dw + 1);
  };
  for (int64_t c0 = p.cb; c0 < p.ce; c0 += 32) {
    const int64_t nc = std::min<int64_t>(32, p.ce - c0);
    Block b{x + c0, w + c0, C, p.w, p.sw, p.dw, p.pl, p.kw, 0, _mm512_set1_epi16(int16_t(zx)),
            _mm512_set1_epi32(0xFFFF), _mm512_set1_epi32(int32_t(0xFFFF0000u))};
    b.mb = nc == 32 ? __mmask32(0xFFFFFFFFu) : __mmask32((1u << nc) - 1);
    const __mmask16 m0 = __mmask16(b.mb), m1 = __mmask16(b.mb >> 16);
    // bias and scale of the even and of the odd channels
    const __m512i b0 = _mm512_maskz_loadu_epi32(m0, bias + c0), b1 = _mm512_maskz_loadu_epi32(m1, bias + c0 + 16);
    const __m512 s0 = _mm512_maskz_loadu_ps(m0, scale + c0), s1 = _mm512_maskz_loadu_ps(m1, scale + c0 + 16);
    const __m512i bias_e = _mm512_permutex2var_epi32(b0, even_idx, b1), bias_o = _mm512_permutex2var_epi32(b0, odd_idx, b1);
    // the interior's bias: zx * (sum of each channel's taps) taken off (|sum| <= 128 * taps fits int16 words
    // for up to 255 taps; larger kernels keep subtracting)
    __m512i wsum = _mm512_setzero_si512();
    for (int64_t t = 0; t < p.kh * p.kw; ++t) wsum = _mm512_add_epi16(wsum, _mm512_maskz_loadu_epi16(b.mb, w + t * C + c0));
    const bool fold = p.kh * p.kw <= 255;
    const __m512i zx32 = _mm512_set1_epi32(zx);
    const __m512i ws_e = _mm512_srai_epi32(_mm512_slli_epi32(wsum, 16), 16), ws_o = _mm512_srai_epi32(wsum, 16);
    const __m512i ibias_e = _mm512_sub_epi32(bias_e, _mm512_mullo_epi32(ws_e, zx32));
    const __m512i ibias_o = _mm512_sub_epi32(bias_o, _mm512_mullo_epi32(ws_o, zx32));
    const __m512 scale_e = _mm512_permutex2var_ps(s0, even_idx, s1), scale_o = _mm512_permutex2var_ps(s0, odd_idx, s1);
    auto requant = [&](__m512i acc, __m512i bb, __m512 ss) {
      const __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(acc, bb)), ss);
      return _mm512_cvtepi32_epi8(_mm512_add_epi32(_mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(v, lo), hi)), zp));
    };
    auto store = [&](uint8_t* yp, __m512i ae, __m512i ao, bool interior) {
      const __m128i e = requant(ae, interior ? ibias_e : bias_e, scale_e);
      const __m128i o = requant(ao, interior ? ibias_o : bias_o, scale_o);
      const __m128i q0 = _mm_unpacklo_epi8(e, o), q1 = _mm_unpackhi_epi8(e, o);  // channels 0-15, 16-31
      if (nc == 32) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(yp), q0);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(yp + 16), q1);
      } else {
        _mm_mask_storeu_epi8(yp, m0, q0);
        _mm_mask_storeu_epi8(yp + 16, m1, q1);
      }
    };
    for (int64_t oh = oh0; oh < oh1; ++oh) {
      const int64_t ih0 = oh * p.sh - p.pt;
      const int64_t i0 = ih0 >= 0 ? 0 : (-ih0 + p.dh - 1) / p.dh;
      const int64_t i1 = p.h - 1 - ih0 < 0 ? 0 : std::min<int64_t>(p.kh, (p.h - 1 - ih0) / p.dh + 1);
      uint8_t* yr = y + oh * OW * C + c0;
      __m512i ae[8], ao[8];
      auto single = [&](int64_t ow) {
        int64_t j0, j1;
        jrange(ow, j0, j1);
        accumulate<1, true>(b, ih0, p.dh, i0, i1, j0, std::max(j0, j1), ow, ae, ao);
        store(yr + ow * C, ae[0], ao[0], false);
      };
      for (int64_t ow = 0; ow < owa; ++ow) single(ow);
      int64_t ow = owa;
      // rows with every tap inside (i0 == 0, i1 == kh) take the zero point off the bias
      const bool full_rows = fold && i0 == 0 && i1 == p.kh;
      for (; ow + 8 <= owb; ow += 8) {
        if (full_rows) accumulate<8, false>(b, ih0, p.dh, i0, i1, 0, p.kw, ow, ae, ao);
        else accumulate<8, true>(b, ih0, p.dh, i0, i1, 0, p.kw, ow, ae, ao);
#pragma GCC unroll 8
        for (int q = 0; q < 8; ++q) store(yr + (ow + q) * C, ae[q], ao[q], full_rows);
      }
      for (; ow < OW; ++ow) single(ow);
    }
  }
}

}  // namespace pyrt::kernels::x86
