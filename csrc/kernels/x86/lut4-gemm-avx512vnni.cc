// Shared-values (lut, 4-bit) GEMM with AVX-512 VNNI, on the file's codes in place (see Lut4Matrix).
//
// 64 code bytes of one weight row (128 k's) are a zmm: their low nibbles are the even k's, their high nibbles the
// odd ones. vpshufb looks the nibbles up in the row's 16-entry int8 codebook broadcast to every 128-bit lane: 64
// weights per instruction, no unpacking of the stream.
//   Many rows: 16 weight rows at a time are looked up, put back in k order (byte unpacks) and transposed by
//   4-byte words into a panel of [k / 4][16 rows][4] in L1 (XNNPACK's c4 layout; 16 x 16 word transposes in
//   registers), the only decoded form, a few KiB, made once per call for all the activation rows. The GEMM then
//   runs on it as the int8 GEMMs do: a broadcast 4-byte word of an activation row times 16 outputs' 4 weights per
//   vpdpbusd, 8 activation rows a step, every output in its own int32 lane.
//   One to three rows (a GEMV): each weight is used once, so the lookups go straight into vpdpbusd against the
//   activations put in the codes' order (per 128-value chunk the even k's, then the odd ones; 128-bit lane L
//   holds k in [32L, 32L + 32)); each int32 lane holds part of one output's sum, and a tile's 16 outputs are
//   reduced together by a transpose of the 16 accumulators.
// Both finish with the reference's float operations on exact int32 sums: bit-exact with it.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/x86/x86.h"

// GCC 12's intrinsics give the unused pass-through of unmasked operations an undefined value it then warns about.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

// The per-tile register arrays must be unrolled to stay in registers.
#if defined(__clang__)
#define PYRT_UNROLL_LUT _Pragma("unroll")
#elif defined(__GNUC__)
#define PYRT_UNROLL_LUT _Pragma("GCC unroll 16")
#else
#define PYRT_UNROLL_LUT
#endif

namespace pyrt::kernels::x86 {
namespace {

// 16 int32 vectors -> one, lane i = the sum of a[i]'s lanes: pairs, then quads inside each 128-bit lane, then a
// 4x4 transpose of the 128-bit lanes.
inline __m512i reduce16(const __m512i* a) {
  __m512i s1[8], s2[4];
  PYRT_UNROLL_LUT
  for (int j = 0; j < 8; ++j)
    s1[j] = _mm512_add_epi32(_mm512_unpacklo_epi32(a[2 * j], a[2 * j + 1]), _mm512_unpackhi_epi32(a[2 * j], a[2 * j + 1]));
  PYRT_UNROLL_LUT
  for (int j = 0; j < 4; ++j)
    s2[j] = _mm512_add_epi32(_mm512_unpacklo_epi64(s1[2 * j], s1[2 * j + 1]), _mm512_unpackhi_epi64(s1[2 * j], s1[2 * j + 1]));
  const __m512i w01 = _mm512_add_epi32(_mm512_shuffle_i32x4(s2[0], s2[1], 0x44), _mm512_shuffle_i32x4(s2[0], s2[1], 0xEE));
  const __m512i w23 = _mm512_add_epi32(_mm512_shuffle_i32x4(s2[2], s2[3], 0x44), _mm512_shuffle_i32x4(s2[2], s2[3], 0xEE));
  return _mm512_add_epi32(_mm512_shuffle_i32x4(w01, w23, 0x88), _mm512_shuffle_i32x4(w01, w23, 0xDD));
}

// Activation row m (in the codes' order) against weight rows [n0, n0 + nt) (nt <= 16), finished into y: output t
// is lane t of the reduced accumulators.
void row16(const Lut4Matrix& w, const uint8_t* xm, const QParams& q, size_t m, size_t n0, size_t nt,
           const float* bias, float lo, float hi, float* y, size_t ldy) {
  __m512i acc[16];
  PYRT_UNROLL_LUT
  for (int i = 0; i < 16; ++i) acc[i] = _mm512_setzero_si512();
  const size_t kb = w.k / 2;  // code bytes a row
  const __m512i low = _mm512_set1_epi8(0x0F);
  for (size_t c = 0; c < kb; c += 64) {
    const size_t left = kb - c;
    const __mmask64 mk = left >= 64 ? ~__mmask64(0) : (__mmask64(1) << left) - 1;  // bytes past the row: x is 0 there
    const __m512i xe = _mm512_loadu_si512(xm + 2 * c), xo = _mm512_loadu_si512(xm + 2 * c + 64);
    PYRT_UNROLL_LUT
    for (int t = 0; t < 16; ++t) {  // unrolled: the accumulators stay in registers
      if (size_t(t) >= nt) break;
      const __m512i b = _mm512_maskz_loadu_epi8(mk, w.codes + (n0 + size_t(t)) * kb + c);
      const __m512i tb = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w.table + (n0 + size_t(t)) * 16)));
      const __m512i we = _mm512_shuffle_epi8(tb, _mm512_and_si512(b, low));
      const __m512i wo = _mm512_shuffle_epi8(tb, _mm512_and_si512(_mm512_srli_epi16(b, 4), low));
      acc[t] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(acc[t], xe, we), xo, wo);
    }
  }
  const __mmask16 live = __mmask16((1u << nt) - 1);
  const __m512i ws = _mm512_maskz_loadu_epi32(live, w.wsum + n0);
  const __m512 sc = _mm512_maskz_loadu_ps(live, w.scale + n0);
  const __m512 bi = bias ? _mm512_maskz_loadu_ps(live, bias + n0) : _mm512_setzero_ps();
  const __m512i d = _mm512_sub_epi32(reduce16(acc), _mm512_mullo_epi32(_mm512_set1_epi32(q.zp), ws));
  __m512 v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), _mm512_mul_ps(_mm512_set1_ps(q.scale), sc), bi);
  v = _mm512_min_ps(_mm512_set1_ps(hi), _mm512_max_ps(_mm512_set1_ps(lo), v));  // a NaN v passes both
  _mm512_mask_storeu_ps(y + m * ldy + n0, live, v);
}

// x rows (len bytes, ldx apart) in the codes' order (per 128-byte chunk: even bytes, then odd ones) into out (rows of
// ldo bytes, ldo a multiple of 128, zero past len).
void order_rows(const uint8_t* x, size_t ldx, size_t len, size_t rows, uint8_t* out, size_t ldo) {
  for (size_t m = 0; m < rows; ++m)
    for (size_t c = 0; c < ldo; c += kLut4Chunk) {
      uint8_t* p = out + m * ldo + c;
      const size_t left = c < len ? len - c : 0;
      const __mmask64 m0 = left >= 64 ? ~__mmask64(0) : (__mmask64(1) << left) - 1;
      const __mmask64 m1 = left >= 128 ? ~__mmask64(0) : left > 64 ? (__mmask64(1) << (left - 64)) - 1 : 0;
      const __m512i z0 = _mm512_maskz_loadu_epi8(m0, x + m * ldx + c), z1 = _mm512_maskz_loadu_epi8(m1, x + m * ldx + c + 64);
      // vpmovwb keeps each 16-bit word's low byte: the even bytes; shifted first, the odd ones
      const __m512i even = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi16_epi8(z0)), _mm512_cvtepi16_epi8(z1), 1);
      const __m512i odd = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi16_epi8(_mm512_srli_epi16(z0, 8))),
                                             _mm512_cvtepi16_epi8(_mm512_srli_epi16(z1, 8)), 1);
      _mm512_storeu_si512(p, even);
      _mm512_storeu_si512(p + 64, odd);
    }
}

// 16 vectors of 16 words, transposed in place: r[j] word i <- r[i] word j.
inline void transpose16(__m512i* r) {
  __m512i t[16];
  PYRT_UNROLL_LUT
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
  PYRT_UNROLL_LUT
  for (int i = 0; i < 4; ++i) {  // per 128-bit lane L, u[4i + e] = word 4L + e of rows 4i..4i+3
    r[4 * i + 0] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
    r[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
    r[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    r[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  PYRT_UNROLL_LUT
  for (int e = 0; e < 4; ++e) {  // the 4 x 4 transpose of 128-bit lanes
    const __m512i v0 = _mm512_shuffle_i32x4(r[e], r[4 + e], 0x44), v1 = _mm512_shuffle_i32x4(r[e], r[4 + e], 0xEE);
    const __m512i v2 = _mm512_shuffle_i32x4(r[8 + e], r[12 + e], 0x44), v3 = _mm512_shuffle_i32x4(r[8 + e], r[12 + e], 0xEE);
    t[e] = _mm512_shuffle_i32x4(v0, v2, 0x88);
    t[4 + e] = _mm512_shuffle_i32x4(v0, v2, 0xDD);
    t[8 + e] = _mm512_shuffle_i32x4(v1, v3, 0x88);
    t[12 + e] = _mm512_shuffle_i32x4(v1, v3, 0xDD);
  }
  PYRT_UNROLL_LUT
  for (int i = 0; i < 16; ++i) r[i] = t[i];
}

// Weight rows [n0, n0 + nt) (nt <= 16; the rest repeat row n0) as int8 in k order, [quad][16 rows][4 bytes], in
// whole 128-value chunks.
void make_panel(const Lut4Matrix& w, size_t n0, size_t nt, uint8_t* panel) {
  const size_t kb = w.k / 2;
  const __m512i low = _mm512_set1_epi8(0x0F);
  for (size_t c = 0; c < kb; c += 64) {
    const size_t left = kb - c;
    const __mmask64 mk = left >= 64 ? ~__mmask64(0) : (__mmask64(1) << left) - 1;
    __m512i a[16], b[16];
    PYRT_UNROLL_LUT
    for (int r = 0; r < 16; ++r) {
      const size_t row = n0 + (size_t(r) < nt ? size_t(r) : 0);
      const __m512i v = _mm512_maskz_loadu_epi8(mk, w.codes + row * kb + c);
      const __m512i tb = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w.table + row * 16)));
      const __m512i we = _mm512_shuffle_epi8(tb, _mm512_and_si512(v, low));
      const __m512i wo = _mm512_shuffle_epi8(tb, _mm512_and_si512(_mm512_srli_epi16(v, 4), low));
      a[r] = _mm512_unpacklo_epi8(we, wo);  // lane L: k in [32L, 32L + 16): words = quads 8L .. 8L + 3
      b[r] = _mm512_unpackhi_epi8(we, wo);  // lane L: k in [32L + 16, 32L + 32): quads 8L + 4 .. 8L + 7
    }
    transpose16(a);
    transpose16(b);
    uint8_t* p = panel + (c / 64) * 32 * 64;  // chunk c / 64 holds quads 32 (c / 64) ..
    PYRT_UNROLL_LUT
    for (int j = 0; j < 16; ++j) {  // word j = 4L + e: quad 8L + e (a) and 8L + 4 + e (b)
      _mm512_store_si512(p + size_t(8 * (j / 4) + j % 4) * 64, a[j]);
      _mm512_store_si512(p + size_t(8 * (j / 4) + 4 + j % 4) * 64, b[j]);
    }
  }
}

// Activation rows [m0, m0 + R) against the panel's 16 outputs, finished into y (nt live columns from n0).
template <int R>
void panel_rows(const uint8_t* panel, size_t kq, const uint8_t* x, size_t ldx, const QParams* q,
                size_t m0, size_t n0, __mmask16 live, __m512i ws, __m512 sc, __m512 bi, float lo, float hi, float* y,
                size_t ldy) {
  __m512i acc[R];
  PYRT_UNROLL_LUT
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_si512();
  const uint8_t* xr = x + m0 * ldx;
  for (size_t k = 0; k < kq; ++k) {
    const __m512i wv = _mm512_load_si512(panel + k * 64);
    PYRT_UNROLL_LUT
    for (int r = 0; r < R; ++r) {
      int32_t xw;
      std::memcpy(&xw, xr + size_t(r) * ldx + 4 * k, 4);
      acc[r] = _mm512_dpbusd_epi32(acc[r], _mm512_set1_epi32(xw), wv);
    }
  }
  PYRT_UNROLL_LUT
  for (int r = 0; r < R; ++r) {
    const QParams qr = q[m0 + size_t(r)];
    const __m512i d = _mm512_sub_epi32(acc[r], _mm512_mullo_epi32(_mm512_set1_epi32(qr.zp), ws));
    __m512 v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), _mm512_mul_ps(_mm512_set1_ps(qr.scale), sc), bi);
    v = _mm512_min_ps(_mm512_set1_ps(hi), _mm512_max_ps(_mm512_set1_ps(lo), v));  // a NaN v passes both
    _mm512_mask_storeu_ps(y + (m0 + size_t(r)) * ldy + n0, live, v);
  }
}

}  // namespace

void gemm_lut4_avx512vnni(const Lut4Matrix& w, const uint8_t* x, size_t ldx, const QParams* q, size_t rows,
                          const float* bias, float lo, float hi, float* y, size_t ldy, size_t n0, size_t n1) {
  const size_t kc = (w.k + kLut4Chunk - 1) / kLut4Chunk * kLut4Chunk;  // k in whole chunks
  if (rows < 4) {  // each weight used once or twice: looked up straight into the products
    thread_local std::vector<uint8_t> xo;
    if (xo.size() < rows * kc) xo.resize(rows * kc);
    order_rows(x, ldx, std::min(ldx, kc), rows, xo.data(), kc);
    for (size_t m = 0; m < rows; ++m)
      for (size_t n = n0; n < n1; n += 16)
        row16(w, xo.data() + m * kc, q[m], m, n, n1 - n < 16 ? n1 - n : 16, bias, lo, hi, y, ldy);
    return;
  }
  thread_local std::vector<uint8_t> panel_bytes;
  if (panel_bytes.size() < kc * 16 + 64) panel_bytes.resize(kc * 16 + 64);
  uint8_t* panel = panel_bytes.data() + (64 - reinterpret_cast<uintptr_t>(panel_bytes.data()) % 64) % 64;
  const size_t kq = (w.k + 3) / 4;  // the quads the activations have (zero past k)
  for (size_t n = n0; n < n1; n += 16) {
    const size_t nt = n1 - n < 16 ? n1 - n : 16;
    make_panel(w, n, nt, panel);
    const __mmask16 live = __mmask16((1u << nt) - 1);
    const __m512i ws = _mm512_maskz_loadu_epi32(live, w.wsum + n);
    const __m512 sc = _mm512_maskz_loadu_ps(live, w.scale + n);
    const __m512 bi = bias ? _mm512_maskz_loadu_ps(live, bias + n) : _mm512_setzero_ps();
    size_t m = 0;
    for (; m + 8 <= rows; m += 8) panel_rows<8>(panel, kq, x, ldx, q, m, n, live, ws, sc, bi, lo, hi, y, ldy);
    if (m + 4 <= rows) panel_rows<4>(panel, kq, x, ldx, q, m, n, live, ws, sc, bi, lo, hi, y, ldy), m += 4;
    if (m + 2 <= rows) panel_rows<2>(panel, kq, x, ldx, q, m, n, live, ws, sc, bi, lo, hi, y, ldy), m += 2;
    if (m < rows) panel_rows<1>(panel, kq, x, ldx, q, m, n, live, ws, sc, bi, lo, hi, y, ldy);
  }
}

}  // namespace pyrt::kernels::x86
