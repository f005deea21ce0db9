// int4 x int8 matrix-vector product with AVX-512 VNNI: 64 weights a step. 32 bytes of nibbles (broadcast by
// the load) give the low then the high nibbles of two 32-value chunks, matched by the activations rearranged
// once per call (pair_order), flipped to w + 8 (0..15, unsigned) and multiplied by the signed activations with
// vpdpbusd into int32 lanes (exact), then corrected by -8 * sum(x) per group and scaled. With groups of 32 a
// step holds two groups (lanes 0-3 and 8-11, 4-7 and 12-15); larger groups take whole steps. Groups must be
// multiples of 32 (else the reference runs).
//
// With the prepacked layout (i4_pack_avx512vnni, built at load) 16 rows run at once instead: each 64-byte step
// holds 8 k's of 16 rows (byte 4r+t: w[r][k+t] + 8 in the low nibble, w[r][k+4+t] + 8 in the high one), so two
// vpdpbusd against broadcast 4-byte activation words give every row's sum in its own int32 lane: no
// permutes, one float conversion and FMA per group for 16 rows. About half the instructions per weight of the
// canonical path, which bounds one thread below the memory bandwidth.
#include <immintrin.h>

#include <cstring>
#include <vector>

#include "kernels/ref/ref.h"
#include "kernels/x86/x86.h"

// The per-row register arrays must be unrolled to stay in registers.
#if defined(__clang__)
#define PYRT_UNROLL_I4 _Pragma("unroll")
#elif defined(__GNUC__)
#define PYRT_UNROLL_I4 _Pragma("GCC unroll 8")
#else
#define PYRT_UNROLL_I4
#endif

namespace pyrt::kernels::x86 {
namespace {

// Rows follow each other in memory and are read one after another: one stream, fetched this many bytes
// ahead (measured at K = N = 8192: without it one thread read ~20 GB/s of a ~30 GB/s stream).
constexpr size_t kAhead = 1024;

inline float wscale(const I4Matrix& w, size_t gi) {
  return w.scales_f16 ? _cvtsh_ss(static_cast<const uint16_t*>(w.scales)[gi]) : static_cast<const float*>(w.scales)[gi];
}

// 64 nibbles (32 bytes at p, two 32-value chunks A and B) -> w + 8 as 64 unsigned bytes: A's low nibbles,
// B's low nibbles, A's high, B's high. The 32 bytes are broadcast by the load itself (no shuffle).
inline __m512i unpack64(const uint8_t* p) {
  const __m512i b = _mm512_xor_si512(_mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))),
                                     _mm512_set1_epi8(char(0x88)));
  return _mm512_and_si512(_mm512_srlv_epi64(b, _mm512_setr_epi64(0, 0, 0, 0, 4, 4, 4, 4)), _mm512_set1_epi8(0x0F));
}

// The activations in unpack64's order: in each 64 values (two chunks, each its 16 even-indexed values then
// its 16 odd ones) the middle 16-byte blocks swap. Once per call, into a buffer of the calling thread.
const int8_t* pair_order(const I8Groups& x, size_t total) {
  thread_local std::vector<int8_t> buf;
  if (buf.size() < total) buf.resize(total);
  size_t i = 0;
  for (; i + 64 <= total; i += 64) {
    std::memcpy(buf.data() + i, x.q + i, 16);
    std::memcpy(buf.data() + i + 16, x.q + i + 32, 16);
    std::memcpy(buf.data() + i + 32, x.q + i + 16, 16);
    std::memcpy(buf.data() + i + 48, x.q + i + 48, 16);
  }
  std::memcpy(buf.data() + i, x.q + i, total - i);  // a lone last chunk stays as it is
  return buf.data();
}

// 32 nibbles (16 bytes) -> 32 bytes, for a group of 32 left over after the pairs.
inline __m256i unpack32(const uint8_t* p) {
  const __m256i b = _mm256_xor_si256(_mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))),
                                     _mm256_set1_epi8(char(0x88)));
  return _mm256_and_si256(_mm256_srlv_epi64(b, _mm256_setr_epi64x(0, 0, 4, 4)), _mm256_set1_epi8(0x0F));
}

// One group of 32 in 256-bit registers (a lone or odd last group of 32): its scaled dot product.
// with_corr: include the group's -8 sum(x) (else the caller's block correction has it).
inline __m256 group32(const I4Matrix& w, const I8Groups& x, const uint8_t* wr, size_t n, size_t g, bool with_corr) {
  const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.q + g * 32));
  const __m256i c0 = _mm256_setr_epi32(with_corr ? -8 * x.sum[g] : 0, 0, 0, 0, 0, 0, 0, 0);
  const __m256i p = _mm256_dpbusd_epi32(c0, unpack32(wr + g * 16), xv);
  return _mm256_mul_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(wscale(w, n * w.ng + g) * x.scale[g]));
}

// xp: the activations in pair order (pair_order); idx[j]: the lanes' groups for the pair starting at group j.
float row(const I4Matrix& w, const I8Groups& x, const int8_t* xp, const __m512i* idx, size_t n) {
  const size_t G = w.group;
  const uint8_t* wr = w.q + n * (w.ng * G / 2);
  __m512 acc = _mm512_setzero_ps(), acc2 = _mm512_setzero_ps(), corr = _mm512_setzero_ps();
  if (G == 32) {
    // Blocks of 16 groups: the row's 16 scales are converted and multiplied by x's at once, and each pair of
    // groups picks its two (lanes 0-3 and 8-11 the first, 4-7 and 12-15 the second) with one permute.
    size_t g = 0;
    for (; g + 2 <= w.ng; g += 16) {
      const size_t nb = w.ng - g < 16 ? w.ng - g : 16;  // groups in this block
      const __mmask16 live = __mmask16((1u << nb) - 1);
      const size_t gi = n * w.ng + g;
      const __m512 ws = w.scales_f16 ? _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(live, static_cast<const uint16_t*>(w.scales) + gi))
                                     : _mm512_maskz_loadu_ps(live, static_cast<const float*>(w.scales) + gi);
      const __m512 sv = _mm512_mul_ps(ws, _mm512_maskz_loadu_ps(live, x.scale + g));
      // the -8 sum(x) corrections of the block's groups, scaled, in one operation
      corr = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(live, x.sum + g)), sv, corr);
      // two groups a step; alternate steps add into separate sums (one FMA chain would bound the loop)
      auto step = [&](size_t j, __m512 a) {
        _mm_prefetch(reinterpret_cast<const char*>(wr + (g + j) * 16) + kAhead, _MM_HINT_T0);
        const __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), unpack64(wr + (g + j) * 16),
                                              _mm512_loadu_si512(xp + (g + j) * 32));
        return _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_permutexvar_ps(idx[j / 2], sv), a);
      };
      size_t j = 0;
      for (; j + 4 <= nb; j += 4) {
        acc = step(j, acc);
        acc2 = step(j + 2, acc2);
      }
      if (j + 2 <= nb) acc = step(j, acc);
      if (nb % 2) acc = _mm512_add_ps(acc, _mm512_castps256_ps512(group32(w, x, wr, n, g + nb - 1, false)));
    }
    if (g < w.ng) acc = _mm512_add_ps(acc, _mm512_castps256_ps512(group32(w, x, wr, n, g, true)));  // ng == 1
  } else {
    for (size_t g = 0; g < w.ng; ++g) {  // groups of 64 or more: whole steps within a group
      __m512i p = _mm512_maskz_set1_epi32(1, -8 * x.sum[g]);
      for (size_t c = 0; c < G; c += 64)
        p = _mm512_dpbusd_epi32(p, unpack64(wr + (g * G + c) / 2), _mm512_loadu_si512(xp + g * G + c));
      acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_set1_ps(wscale(w, n * w.ng + g) * x.scale[g]), acc);
    }
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc, acc2)) - 8.f * _mm512_reduce_add_ps(corr);
}

// Packed layout: blocks of 16 rows; per block ng * group / 8 steps of 64 bytes (the nibbles), then after all
// blocks the scales [block][group][16 rows], in the file's scale type (f16 stays f16: a tenth of the bytes
// read at group 32).
constexpr size_t kRows = 16;
#ifndef PYRT_I4_AHEAD
#define PYRT_I4_AHEAD 16384
#endif
constexpr size_t kAheadPacked = PYRT_I4_AHEAD;
size_t blocks(const I4Matrix& w) { return (w.n + kRows - 1) / kRows; }
size_t block_bytes(const I4Matrix& w) { return w.ng * w.group / 8 * 64; }

inline int signed_nibble(const I4Matrix& w, size_t r, size_t i) {  // weight (r, i) of the canonical layout
  const size_t e = r * w.ng * w.group + i;
  return (((w.q[e >> 1] >> ((e & 1) * 4)) & 0xF) ^ 8) - 8;
}

// x's quantized values in plain k order (I8Groups stores them chunk-deinterleaved), once per call.
const int8_t* plain_order(const I8Groups& x, size_t group, size_t total) {
  thread_local std::vector<int8_t> buf;
  if (buf.size() < total) buf.resize(total);
  const size_t chunk = i4_chunk(group);
  for (size_t i = 0; i < total; ++i) buf[i] = x.q[i / group * group + i4_slot(i % group, chunk)];
  return buf.data();
}

// Rows [b*16, b*16+16) of the packed matrix -> their 16 sums (before bias).
inline __m512 packed_block(const I4Matrix& w, const I8Groups& x, const int8_t* xp, size_t b) {
  const uint8_t* p = w.packed + b * block_bytes(w);
  const uint8_t* sc = w.packed + blocks(w) * block_bytes(w) + b * w.ng * kRows * (w.scales_f16 ? 2 : 4);
  const __m512i low = _mm512_set1_epi8(0x0F);
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  const size_t steps = w.group / 8;
  for (size_t g = 0; g < w.ng; ++g) {
    // two chains (low and high nibbles) per group; the next group's start does not wait on this one's
    __m512i p0 = _mm512_set1_epi32(-8 * x.sum[g]), p1 = _mm512_setzero_si512();
    const int8_t* xg = xp + g * w.group;
    for (size_t s = 0; s < steps; ++s, p += 64) {
      _mm_prefetch(reinterpret_cast<const char*>(p) + kAheadPacked, _MM_HINT_T0);
      const __m512i v = _mm512_load_si512(p);
      uint32_t xa, xb;
      std::memcpy(&xa, xg + 8 * s, 4);
      std::memcpy(&xb, xg + 8 * s + 4, 4);
      p0 = _mm512_dpbusd_epi32(p0, _mm512_and_si512(v, low), _mm512_set1_epi32(int(xa)));
      p1 = _mm512_dpbusd_epi32(p1, _mm512_and_si512(_mm512_srli_epi16(v, 4), low), _mm512_set1_epi32(int(xb)));
    }
    const __m512 ws = w.scales_f16 ? _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(sc) + g))
                                   : _mm512_load_ps(reinterpret_cast<const float*>(sc) + g * kRows);
    const __m512 s = _mm512_mul_ps(ws, _mm512_set1_ps(x.scale[g]));
    const __m512 d = _mm512_cvtepi32_ps(_mm512_add_epi32(p0, p1));
    if (g & 1) acc1 = _mm512_fmadd_ps(d, s, acc1);
    else acc0 = _mm512_fmadd_ps(d, s, acc0);
  }
  return _mm512_add_ps(acc0, acc1);
}

// Rows [m0, m0 + R) of x against block b (16 weight rows): out[r * 16 + j]. Each row's sums run exactly as in
// packed_block (the same chains, groups alternating between two float sums), so the GEMM and the GEMV agree bit
// for bit; each 64-byte step of weights is unpacked once for the R rows.
template <int R>
inline void packed_rows(const I4Matrix& w, const I8Rows& x, size_t m0, size_t b, float* out) {
  const uint8_t* p = w.packed + b * block_bytes(w);
  const uint8_t* sc = w.packed + blocks(w) * block_bytes(w) + b * w.ng * kRows * (w.scales_f16 ? 2 : 4);
  const __m512i low = _mm512_set1_epi8(0x0F);
  const size_t kq = w.ng * w.group, steps = w.group / 8;
  __m512 acc0[R], acc1[R];
  PYRT_UNROLL_I4
  for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = _mm512_setzero_ps();
  for (size_t g = 0; g < w.ng; ++g) {
    __m512i p0[R], p1[R];
    PYRT_UNROLL_I4
    for (int r = 0; r < R; ++r) {
      p0[r] = _mm512_set1_epi32(x.corr[(m0 + r) * w.ng + g]);
      p1[r] = _mm512_setzero_si512();
    }
    const int8_t* xg = x.q + m0 * kq + g * w.group;
    for (size_t s = 0; s < steps; ++s, p += 64) {
      const __m512i v = _mm512_load_si512(p);
      const __m512i lo = _mm512_and_si512(v, low), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
      PYRT_UNROLL_I4
      for (int r = 0; r < R; ++r) {
        uint32_t xa, xb;
        std::memcpy(&xa, xg + r * kq + 8 * s, 4);
        std::memcpy(&xb, xg + r * kq + 8 * s + 4, 4);
        p0[r] = _mm512_dpbusd_epi32(p0[r], lo, _mm512_set1_epi32(int(xa)));
        p1[r] = _mm512_dpbusd_epi32(p1[r], hi, _mm512_set1_epi32(int(xb)));
      }
    }
    const __m512 ws = w.scales_f16 ? _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(sc) + g))
                                   : _mm512_load_ps(reinterpret_cast<const float*>(sc) + g * kRows);
    PYRT_UNROLL_I4
    for (int r = 0; r < R; ++r) {
      const __m512 sv = _mm512_mul_ps(ws, _mm512_set1_ps(x.scale[(m0 + r) * w.ng + g]));
      const __m512 d = _mm512_cvtepi32_ps(_mm512_add_epi32(p0[r], p1[r]));
      if (g & 1) acc1[r] = _mm512_fmadd_ps(d, sv, acc1[r]);
      else acc0[r] = _mm512_fmadd_ps(d, sv, acc0[r]);
    }
  }
  PYRT_UNROLL_I4
  for (int r = 0; r < R; ++r) _mm512_storeu_ps(out + r * kRows, _mm512_add_ps(acc0[r], acc1[r]));
}

}  // namespace

size_t i4_pack_size_avx512vnni(const I4Matrix& w) {
  return blocks(w) * (block_bytes(w) + w.ng * kRows * (w.scales_f16 ? 2 : 4));
}

void i4_pack_avx512vnni(const I4Matrix& w, uint8_t* dst) {
  const size_t nb = blocks(w), G = w.group;
  for (size_t b = 0; b < nb; ++b) {
    uint8_t* p = dst + b * block_bytes(w);
    for (size_t k = 0; k < w.ng * G; k += 8, p += 64)
      for (size_t r = 0; r < kRows; ++r)
        for (size_t t = 0; t < 4; ++t) {
          const size_t n = b * kRows + r;  // rows past n: weight 0 (stored 8)
          const int lo = n < w.n ? signed_nibble(w, n, k + t) : 0, hi = n < w.n ? signed_nibble(w, n, k + 4 + t) : 0;
          p[r * 4 + t] = uint8_t((lo + 8) | (hi + 8) << 4);
        }
  }
  uint8_t* sc = dst + nb * block_bytes(w);
  const size_t es = w.scales_f16 ? 2 : 4;
  for (size_t b = 0; b < nb; ++b)
    for (size_t g = 0; g < w.ng; ++g)
      for (size_t r = 0; r < kRows; ++r) {
        const size_t n = b * kRows + r, at = ((b * w.ng + g) * kRows + r) * es;
        if (n < w.n) std::memcpy(sc + at, static_cast<const uint8_t*>(w.scales) + (n * w.ng + g) * es, es);
        else std::memset(sc + at, 0, es);
      }
}

void gemv_i4_avx512vnni(const I4Matrix& w, const I8Groups& x, const float* bias, float* y, size_t n0, size_t n1) {
  if (w.packed && n0 < n1) {
    const int8_t* xp = plain_order(x, w.group, w.ng * w.group);
    for (size_t b = n0 / kRows; b * kRows < n1; ++b) {
      alignas(64) float out[kRows];
      _mm512_store_ps(out, packed_block(w, x, xp, b));
      for (size_t r = 0; r < kRows; ++r) {
        const size_t n = b * kRows + r;
        if (n >= n0 && n < n1) y[n] = out[r] + (bias ? bias[n] : 0.f);
      }
    }
    return;
  }
  if (w.group % 32) return ref::gemv_i4(w, x, bias, y, n0, n1);
  // One row at a time: rows are separate streams, and at k = 8192 they start exactly 4 KiB apart, so reading
  // several in step (to share the activation loads) aliased in L1 and ran at a third of the bandwidth.
  const int8_t* xp = pair_order(x, w.ng * w.group);
  __m512i idx[8];
  for (int j = 0; j < 8; ++j)
    idx[j] = _mm512_add_epi32(_mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1), _mm512_set1_epi32(2 * j));
  for (size_t n = n0; n < n1; ++n) y[n] = row(w, x, xp, idx, n) + (bias ? bias[n] : 0.f);
}

// Rows of x in blocks of kRowsAtOnce against every 16-row weight block of [n0, n1): the x rows of a block
// (kRowsAtOnce * K bytes) stay in L1 while the weight blocks stream past them.
void gemm_i4_avx512vnni(const I4Matrix& w, const I8Rows& x, const float* bias, float* y, size_t ldy, size_t n0,
                        size_t n1) {
  constexpr size_t kRowsAtOnce = 6;  // 4 accumulators a row: 24 of the 32 registers
  if (!w.packed || n0 >= n1) return;
  alignas(64) float out[kRowsAtOnce * kRows];
  for (size_t m0 = 0; m0 < x.rows; m0 += kRowsAtOnce) {
    const size_t R = x.rows - m0 < kRowsAtOnce ? x.rows - m0 : kRowsAtOnce;
    for (size_t b = n0 / kRows; b * kRows < n1; ++b) {
      switch (R) {
        case 1: packed_rows<1>(w, x, m0, b, out); break;
        case 2: packed_rows<2>(w, x, m0, b, out); break;
        case 3: packed_rows<3>(w, x, m0, b, out); break;
        case 4: packed_rows<4>(w, x, m0, b, out); break;
        case 5: packed_rows<5>(w, x, m0, b, out); break;
        default: packed_rows<6>(w, x, m0, b, out); break;
      }
      const size_t j0 = b * kRows < n0 ? n0 - b * kRows : 0, j1 = n1 - b * kRows < kRows ? n1 - b * kRows : kRows;
      for (size_t r = 0; r < R; ++r)
        for (size_t j = j0; j < j1; ++j) y[(m0 + r) * ldy + b * kRows + j] = out[r * kRows + j] + (bias ? bias[b * kRows + j] : 0.f);
    }
  }
}

// quantize_i8_rows with 16 lanes: the same operations on each value (|x| max, x * (127 / max) rounded to
// nearest even, clamped to [-127, 127] with the reference's NaN handling), so the same bytes. Groups that are
// not a multiple of 16 take the reference.
void quantize_i8_rows_avx512(const float* x, size_t ldx, size_t rows, size_t k, size_t group, int8_t* q, float* scale,
                             int32_t* corr) {
  if (group % 16) return quantize_i8_rows(x, ldx, rows, k, group, q, scale, corr);
  const size_t ng = (k + group - 1) / group;
  const __m512 lo = _mm512_set1_ps(-127.f), hi = _mm512_set1_ps(127.f);
  const __m512i sign = _mm512_set1_epi32(0x7FFFFFFF);
  for (size_t m = 0; m < rows; ++m) {
    const float* xr = x + m * ldx;
    int8_t* qr = q + m * ng * group;
    for (size_t g = 0; g < ng; ++g) {
      const size_t c0 = g * group, n = k - c0 < group ? k - c0 : group;
      auto live = [&](size_t i) { return i >= n ? __mmask16(0) : n - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - i)) - 1); };
      __m512 amax = _mm512_setzero_ps();
      for (size_t i = 0; i < n; i += 16) {  // max_ps keeps its second operand when the first is NaN: fmax's rule
        const __m512 v = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(_mm512_maskz_loadu_ps(live(i), xr + c0 + i)), sign));
        amax = _mm512_max_ps(v, amax);
      }
      const float a = _mm512_reduce_max_ps(amax);
      const float inv = a > 0.f ? 127.f / a : 0.f;
      const __m512 iv = _mm512_set1_ps(inv);
      __m512i acc = _mm512_setzero_si512();
      for (size_t i = 0; i < group; i += 16) {
        const __m512 t = _mm512_roundscale_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(live(i), xr + c0 + i), iv),
                                              _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        const __m512i qi = _mm512_cvttps_epi32(_mm512_min_ps(_mm512_max_ps(t, lo), hi));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(qr + c0 + i), _mm512_cvtepi32_epi8(qi));
        acc = _mm512_add_epi32(acc, qi);
      }
      scale[m * ng + g] = a / 127.f;
      corr[m * ng + g] = -8 * _mm512_reduce_add_epi32(acc);
    }
  }
}

}  // namespace pyrt::kernels::x86
