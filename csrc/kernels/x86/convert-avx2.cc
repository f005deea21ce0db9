// Decode kernels for AVX2 + F16C: f16 widening and i8/i4 dequantization, 8 or 16 values per step.
// Results are bit-identical to kernels/ref/convert.cc (same int->float conversion, one f32 multiply, no FMA).
#include <immintrin.h>

#include "kernels/ref/ref.h"
#include "kernels/x86/x86.h"

namespace pyrt::kernels::x86 {

void f16_to_f32_f16c(const uint16_t* in, float* out, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(h));
  }
  ref::f16_to_f32(in + i, out + i, n - i);
}

void dequant_i8_avx2(const int8_t* q, size_t n, int32_t zp, float scale, float* out) {
  const __m256i vzp = _mm256_set1_epi32(zp);
  const __m256 vs = _mm256_set1_ps(scale);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + i));
    const __m256i w = _mm256_sub_epi32(_mm256_cvtepi8_epi32(b), vzp);
    _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_cvtepi32_ps(w), vs));
  }
  ref::dequant_i8(q + i, n - i, zp, scale, out + i);
}

void dequant_i4_avx2(const uint8_t* packed, size_t n, bool is_signed, int32_t zp, float scale, float* out) {
  // 4 bytes -> 8 nibbles in order: interleave low and high nibbles, then widen to i32.
  const __m256 vs = _mm256_set1_ps(scale);
  const __m256i vzp = _mm256_set1_epi32(is_signed ? 8 : zp);
  const __m128i mask = _mm_set1_epi8(0x0F);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    int32_t word;
    __builtin_memcpy(&word, packed + i / 2, 4);
    const __m128i b = _mm_cvtsi32_si128(word);
    const __m128i lo = _mm_and_si128(b, mask);
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(b, 4), mask);
    __m128i nib = _mm_unpacklo_epi8(lo, hi);  // 8 nibbles in stream order
    if (is_signed) nib = _mm_xor_si128(nib, _mm_set1_epi8(8));  // (nib ^ 8) - 8 = two's complement value
    const __m256i w = _mm256_sub_epi32(_mm256_cvtepu8_epi32(nib), vzp);
    _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_cvtepi32_ps(w), vs));
  }
  ref::dequant_i4(packed + i / 2, n - i, is_signed, zp, scale, out + i);
}

}  // namespace pyrt::kernels::x86
