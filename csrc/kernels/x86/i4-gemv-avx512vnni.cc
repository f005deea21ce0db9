// int4 x int8 matrix-vector product with AVX-512 VNNI: 64 weights a step. 32 bytes of nibbles are spread so
// that each 32-value chunk's low nibbles then high nibbles meet the activations' chunk order (even-indexed
// values, then odd ones), flipped to w + 8 (0..15, unsigned) and multiplied by the signed activations with
// vpdpbusd into int32 lanes (exact), then corrected by -8 * sum(x) per group and scaled. With groups of 32 a
// step holds two groups (lanes 0-7 and 8-15); larger groups take whole steps. Groups must be multiples of 32
// (else the reference runs).
#include <immintrin.h>

#include "kernels/ref/ref.h"
#include "kernels/x86/x86.h"

namespace pyrt::kernels::x86 {
namespace {

inline float wscale(const I4Matrix& w, size_t gi) {
  return w.scales_f16 ? _cvtsh_ss(static_cast<const uint16_t*>(w.scales)[gi]) : static_cast<const float*>(w.scales)[gi];
}

// 64 nibbles (32 bytes at p) -> w + 8 as 64 unsigned bytes in the activations' order.
inline __m512i unpack64(const uint8_t* p) {
  const __m512i spread = _mm512_permutexvar_epi64(_mm512_setr_epi64(0, 1, 0, 1, 2, 3, 2, 3),
                                                  _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))));
  const __m512i b = _mm512_xor_si512(spread, _mm512_set1_epi8(char(0x88)));
  return _mm512_and_si512(_mm512_srlv_epi64(b, _mm512_setr_epi64(0, 0, 4, 4, 0, 0, 4, 4)), _mm512_set1_epi8(0x0F));
}

// 32 nibbles (16 bytes) -> 32 bytes, for a group of 32 left over after the pairs.
inline __m256i unpack32(const uint8_t* p) {
  const __m256i b = _mm256_xor_si256(_mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))),
                                     _mm256_set1_epi8(char(0x88)));
  return _mm256_and_si256(_mm256_srlv_epi64(b, _mm256_setr_epi64x(0, 0, 4, 4)), _mm256_set1_epi8(0x0F));
}

// One group of 32 in 256-bit registers (a lone or odd last group of 32): its scaled dot product.
inline __m256 group32(const I4Matrix& w, const I8Groups& x, const uint8_t* wr, size_t n, size_t g) {
  const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.q + g * 32));
  const __m256i p = _mm256_dpbusd_epi32(_mm256_setr_epi32(-8 * x.sum[g], 0, 0, 0, 0, 0, 0, 0), unpack32(wr + g * 16), xv);
  return _mm256_mul_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(wscale(w, n * w.ng + g) * x.scale[g]));
}

float row(const I4Matrix& w, const I8Groups& x, size_t n) {
  const size_t G = w.group;
  const uint8_t* wr = w.q + n * (w.ng * G / 2);
  __m512 acc = _mm512_setzero_ps();
  if (G == 32) {
    // Blocks of 16 groups: the row's 16 scales are converted and multiplied by x's at once, and each pair of
    // groups picks its two (lanes 0-7, 8-15) with one permute.
    const __m512i pick = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    size_t g = 0;
    for (; g + 2 <= w.ng; g += 16) {
      const size_t nb = w.ng - g < 16 ? w.ng - g : 16;  // groups in this block
      const __mmask16 live = __mmask16((1u << nb) - 1);
      const size_t gi = n * w.ng + g;
      const __m512 ws = w.scales_f16 ? _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(live, static_cast<const uint16_t*>(w.scales) + gi))
                                     : _mm512_maskz_loadu_ps(live, static_cast<const float*>(w.scales) + gi);
      const __m512 sv = _mm512_mul_ps(ws, _mm512_maskz_loadu_ps(live, x.scale + g));
      const __m512i sums = _mm512_mullo_epi32(_mm512_maskz_loadu_epi32(live, x.sum + g), _mm512_set1_epi32(-8));
      for (size_t j = 0; j + 2 <= nb; j += 2) {  // two groups a step
        const __m512i idx = _mm512_add_epi32(pick, _mm512_set1_epi32(int(j)));
        const __m512i corr = _mm512_maskz_permutexvar_epi32(0x0101, idx, sums);  // -8 sum(x), once per group
        const __m512i p = _mm512_dpbusd_epi32(corr, unpack64(wr + (g + j) * 16), _mm512_loadu_si512(x.q + (g + j) * 32));
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_permutexvar_ps(idx, sv), acc);
      }
      if (nb % 2) acc = _mm512_add_ps(acc, _mm512_castps256_ps512(group32(w, x, wr, n, g + nb - 1)));
    }
    if (g < w.ng) acc = _mm512_add_ps(acc, _mm512_castps256_ps512(group32(w, x, wr, n, g)));  // ng == 1
  } else {
    for (size_t g = 0; g < w.ng; ++g) {  // groups of 64 or more: whole steps within a group
      __m512i p = _mm512_maskz_set1_epi32(1, -8 * x.sum[g]);
      for (size_t c = 0; c < G; c += 64)
        p = _mm512_dpbusd_epi32(p, unpack64(wr + (g * G + c) / 2), _mm512_loadu_si512(x.q + g * G + c));
      acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_set1_ps(wscale(w, n * w.ng + g) * x.scale[g]), acc);
    }
  }
  return _mm512_reduce_add_ps(acc);
}

}  // namespace

void gemv_i4_avx512vnni(const I4Matrix& w, const I8Groups& x, const float* bias, float* y, size_t n0, size_t n1) {
  if (w.group % 32) return ref::gemv_i4(w, x, bias, y, n0, n1);
  // One row at a time: rows are separate streams, and at k = 8192 they start exactly 4 KiB apart, so reading
  // several in step (to share the activation loads) aliased in L1 and ran at a third of the bandwidth.
  for (size_t n = n0; n < n1; ++n) y[n] = row(w, x, n) + (bias ? bias[n] : 0.f);
}

}  // namespace pyrt::kernels::x86
