// Scalar reference for the decode kernels: the ground truth the SIMD versions are tested against.
#include <cstring>

#include "kernels/ref/ref.h"

namespace pyrt::kernels::ref {

float f16_to_f32_one(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t mant = h & 0x3FFu;
  uint32_t bits;
  if (exp == 0x1F) {
    bits = sign | 0x7F800000u | (mant << 13);  // inf / nan (payload kept, NaNs quieted as F16C does)
    if (mant) bits |= 0x400000u;
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else {  // subnormal: normalise
    int e = -1;
    do {
      mant <<= 1;
      ++e;
    } while (!(mant & 0x400u));
    bits = sign | uint32_t(112 - e) << 23 | ((mant & 0x3FFu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

void f16_to_f32(const uint16_t* in, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = f16_to_f32_one(in[i]);
}

void dequant_i8(const int8_t* q, size_t n, int32_t zp, float scale, float* out) {
  for (size_t i = 0; i < n; ++i) out[i] = float(int32_t(q[i]) - zp) * scale;
}

void dequant_i4(const uint8_t* packed, size_t n, bool is_signed, int32_t zp, float scale, float* out) {
  for (size_t i = 0; i < n; ++i) {
    const int32_t nib = (packed[i >> 1] >> ((i & 1) * 4)) & 0xF;
    const int32_t q = is_signed ? ((nib ^ 8) - 8) : nib - zp;
    out[i] = float(q) * scale;
  }
}

}  // namespace pyrt::kernels::ref
