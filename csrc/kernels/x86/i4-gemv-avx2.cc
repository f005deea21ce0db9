// int4 x int8 matrix-vector product with AVX2: 32 weights a step (16 bytes of nibbles, low nibbles to one
// 128-bit lane and high ones to the other, matching the activations' chunk order),
// vpmaddubsw on w + 8 (0..15: the nibble with its top bit flipped) times the signed activations (pairs stay within
// 2 * 15 * 127, so the instruction never saturates: exact), vpmaddwd to int32 lanes, then the group's
// correction -8 * sum(x) and its scale. Groups must be multiples of 32
// (else the reference runs).
#include <immintrin.h>

#include "kernels/ref/ref.h"
#include "kernels/x86/x86.h"

namespace pyrt::kernels::x86 {
namespace {

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

inline float wscale(const I4Matrix& w, size_t gi) {
  return w.scales_f16 ? _cvtsh_ss(static_cast<const uint16_t*>(w.scales)[gi]) : static_cast<const float*>(w.scales)[gi];
}

float row(const I4Matrix& w, const I8Groups& x, size_t n) {
  const __m256i m4 = _mm256_set1_epi8(0x0F), flip = _mm256_set1_epi8(char(0x88));
  const __m256i shift = _mm256_setr_epi64x(0, 0, 4, 4);  // low lane: low nibbles; high lane: high nibbles
  const __m256i ones = _mm256_set1_epi16(1);
  const uint8_t* wr = w.q + n * (w.ng * w.group / 2);
  __m256 acc = _mm256_setzero_ps();
  for (size_t g = 0; g < w.ng; ++g) {
    __m256i p = _mm256_setzero_si256();
    for (size_t c = 0; c < w.group; c += 32) {
      // x chunk: 16 even-indexed values, then 16 odd-indexed (the nibbles' order)
      const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.q + g * w.group + c));
      // a stored nibble is w & 0xF (two's complement); w + 8 = nibble ^ 8
      const __m256i b = _mm256_xor_si256(
          flip, _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wr + (g * w.group + c) / 2))));
      const __m256i wu = _mm256_and_si256(_mm256_srlv_epi64(b, shift), m4);
      p = _mm256_add_epi32(p, _mm256_madd_epi16(_mm256_maddubs_epi16(wu, xv), ones));
    }
    const __m256i corr = _mm256_setr_epi32(-8 * x.sum[g], 0, 0, 0, 0, 0, 0, 0);  // sum (w + 8) x - 8 sum x
    const float s = wscale(w, n * w.ng + g) * x.scale[g];
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(p, corr)), _mm256_set1_ps(s), acc);
  }
  return hsum(acc);
}

}  // namespace

void gemv_i4_avx2(const I4Matrix& w, const I8Groups& x, const float* bias, float* y, size_t n0, size_t n1) {
  if (w.group % 32) return ref::gemv_i4(w, x, bias, y, n0, n1);
  // One row at a time: rows are separate streams, and at k = 8192 they start exactly 4 KiB apart, so reading
  // several in step (to share the activation loads) aliased in L1 and ran at a third of the bandwidth.
  for (size_t n = n0; n < n1; ++n) y[n] = row(w, x, n) + (bias ? bias[n] : 0.f);
}

}  // namespace pyrt::kernels::x86
