// Scalar reference kernels (declarations). Every SIMD kernel has its counterpart here.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/activation.h"
#include "kernels/dispatch.h"

namespace pyrt::kernels::ref {

uint32_t crc32c_update(uint32_t crc, const uint8_t* p, size_t n);
float f16_to_f32_one(uint16_t h);
void f16_to_f32(const uint16_t* in, float* out, size_t n);
void dequant_i8(const int8_t* q, size_t n, int32_t zp, float scale, float* out);
void dequant_i4(const uint8_t* packed, size_t n, bool is_signed, int32_t zp, float scale, float* out);
void dwconv(const DwConvParams& p, const float* x, const float* w, float bias, float* y, float* scratch);
void dwconv_nhwc(const DwNhwcParams& p, const float* x, const float* w, const float* bias, const ActParams& act,
                 float* y, int64_t oh0, int64_t oh1);
void gemv_i4(const I4Matrix& w, const I8Groups& x, const float* bias, float* y, size_t n0, size_t n1);
float act_one(const ActParams& a, float x);
void unary(const ActParams& a, const float* x, float* y, size_t n);
void binary(int op, const float* a, size_t a_step, const float* b, size_t b_step, float* y, size_t n);
// f32 GEMM microkernels (see GemmUkArgs in dispatch.h): scalar std::fma chains. One per SIMD tile, so that
// the reference reads the same packed panels: 6x16 (AVX2), 14x32 (AVX-512), 8x12 (NEON).
void f32_gemm_6x16(size_t mr, size_t nr, size_t kc, const float* a, const float* b, float* c, size_t ldc,
                   const GemmUkArgs& args);
void f32_gemm_14x32(size_t mr, size_t nr, size_t kc, const float* a, const float* b, float* c, size_t ldc,
                    const GemmUkArgs& args);
void f32_gemm_8x12(size_t mr, size_t nr, size_t kc, const float* a, const float* b, float* c, size_t ldc,
                   const GemmUkArgs& args);
// The epilogue of one element (bias already added), shared by every kernel's scalar tail.
float gemm_activate(float x, const GemmUkArgs& args);

}  // namespace pyrt::kernels::ref
