// The scalar truth of the file format's primitive codecs: CRC-32C (SPEC §3.2), f16 -> f32 widening and the
// i8 / i4 dequantization of SPEC §6.2. Header-only and dependency-free, so that csrc/format (its default
// codecs) and csrc/kernels/ref (the reference kernels the SIMD ones are tested against) share one copy
// without either layer including the other.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace pyrt::scalar {

// Slicing-by-8 tables of the reflected Castagnoli polynomial, built once on first use.
struct Crc32cTables {
  uint32_t t[8][256];
  Crc32cTables() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i)
      for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
  }
};
inline const Crc32cTables& crc32c_tables() {
  static const Crc32cTables t;
  return t;
}

// The running CRC (no initial or final inversion: callers start from ~0 and invert the result). ~1-2 GB/s.
inline uint32_t crc32c_update(uint32_t crc, const uint8_t* p, size_t n) {
  const auto& T = crc32c_tables().t;
  while (n >= 8) {
    const uint32_t lo = crc ^ (uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24);
    crc = T[7][lo & 0xFF] ^ T[6][(lo >> 8) & 0xFF] ^ T[5][(lo >> 16) & 0xFF] ^ T[4][lo >> 24] ^ T[3][p[4]] ^
          T[2][p[5]] ^ T[1][p[6]] ^ T[0][p[7]];
    p += 8;
    n -= 8;
  }
  while (n--) crc = T[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
  return crc;
}

// Exact widening; NaNs come out quiet with their payload kept, as F16C / NEON conversions give them.
inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t mant = h & 0x3FFu;
  uint32_t bits;
  if (exp == 0x1F) {
    bits = sign | 0x7F800000u | (mant << 13);
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

inline void f16_to_f32(const uint16_t* in, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = f16_to_f32(in[i]);
}

// Element k of a nibble stream: byte k / 2, low nibble first (SPEC §6.2).
inline uint32_t nibble(const uint8_t* p, uint64_t k) { return (p[k >> 1] >> ((k & 1) * 4)) & 0xF; }

// x = (q - zp) * scale, in f32.
inline void dequant_i8(const int8_t* q, size_t n, int32_t zp, float scale, float* out) {
  for (size_t i = 0; i < n; ++i) out[i] = float(int32_t(q[i]) - zp) * scale;
}

// n values of a nibble stream: signed (two's complement, zp unused) or unsigned minus zp, times scale.
inline void dequant_i4(const uint8_t* packed, size_t n, bool is_signed, int32_t zp, float scale, float* out) {
  for (size_t i = 0; i < n; ++i) {
    const int32_t nib = int32_t(nibble(packed, i));
    const int32_t q = is_signed ? ((nib ^ 8) - 8) : nib - zp;
    out[i] = float(q) * scale;
  }
}

}  // namespace pyrt::scalar
