// Scalar reference kernels (declarations). Every SIMD kernel has its counterpart here.
#pragma once
#include <cstddef>
#include <cstdint>

namespace pyrt::kernels::ref {

uint32_t crc32c_update(uint32_t crc, const uint8_t* p, size_t n);
float f16_to_f32_one(uint16_t h);
void f16_to_f32(const uint16_t* in, float* out, size_t n);
void dequant_i8(const int8_t* q, size_t n, int32_t zp, float scale, float* out);
void dequant_i4(const uint8_t* packed, size_t n, bool is_signed, int32_t zp, float scale, float* out);

}  // namespace pyrt::kernels::ref
