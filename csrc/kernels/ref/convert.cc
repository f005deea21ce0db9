// Scalar reference for the decode kernels: the ground truth the SIMD versions are tested against.
#include <cstring>

#include "base/scalar_codecs.h"
#include "kernels/ref/ref.h"

namespace pyrt::kernels::ref {

uint16_t f32_to_f16_one(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = uint16_t((x >> 16) & 0x8000u);
  const uint32_t ax = x & 0x7FFFFFFFu;
  if (ax >= 0x7F800000u)  // inf, NaN (quieted, the payload's top bits kept)
    return uint16_t(sign | 0x7C00u | (ax > 0x7F800000u ? 0x200u | ((ax >> 13) & 0x3FFu) : 0u));
  if (ax >= 0x477FF000u) return uint16_t(sign | 0x7C00u);  // from halfway past 65504: rounds to inf
  if (ax < 0x38800000u) {                                    // below 2^-14: an f16 subnormal or zero
    if (ax < 0x33000000u) return sign;                      // below 2^-25 (2^-25 itself ties to 0)
    const uint32_t e = ax >> 23, m = (ax & 0x7FFFFFu) | 0x800000u, shift = 126 - e;  // units of 2^-24
    uint32_t q = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1u))) ++q;
    return uint16_t(sign | q);
  }
  uint32_t h = (ax - 0x38000000u) >> 13;  // exponent rebiased 127 -> 15, 10 mantissa bits
  const uint32_t rem = ax & 0x1FFFu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // to nearest even; a carry moves to the next binade
  return uint16_t(sign | h);
}

// The decode kernels' references are the format's scalar codecs (base/scalar_codecs.h): one copy of each.
float f16_to_f32_one(uint16_t h) { return scalar::f16_to_f32(h); }

void f16_to_f32(const uint16_t* in, float* out, size_t n) { scalar::f16_to_f32(in, out, n); }

void dequant_i8(const int8_t* q, size_t n, int32_t zp, float scale, float* out) {
  scalar::dequant_i8(q, n, zp, scale, out);
}

void dequant_i4(const uint8_t* packed, size_t n, bool is_signed, int32_t zp, float scale, float* out) {
  scalar::dequant_i4(packed, n, is_signed, zp, scale, out);
}

}  // namespace pyrt::kernels::ref
