// Scalar reference kernels (declarations). Every SIMD kernel has its counterpart here.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/activation.h"
#include "kernels/dispatch.h"

namespace pyrt::kernels::ref {

uint32_t crc32c_update(uint32_t crc, const uint8_t* p, size_t n);
float f16_to_f32_one(uint16_t h);
uint16_t f32_to_f16_one(float f);  // round to nearest even (as F16C's vcvtps2ph)
void f16_to_f32(const uint16_t* in, float* out, size_t n);
void dequant_i8(const int8_t* q, size_t n, int32_t zp, float scale, float* out);
void dequant_i4(const uint8_t* packed, size_t n, bool is_signed, int32_t zp, float scale, float* out);
void dwconv(const DwConvParams& p, const float* x, const float* w, float bias, float* y, float* scratch);
void dwconv_nhwc(const DwNhwcParams& p, const float* x, const float* w, const float* bias, const ActParams& act,
                 float* y, int64_t oh0, int64_t oh1);
void gemv_i4(const I4Matrix& w, const I8Groups& x, const float* bias, float* y, size_t n0, size_t n1);
void gemm_lut4(const Lut4Matrix& w, const uint8_t* x, size_t ldx, const QParams* q, size_t rows, const float* bias,
               float lo, float hi, float* y, size_t ldy, size_t n0, size_t n1);
float act_one(const ActParams& a, float x);
void unary(const ActParams& a, const float* x, float* y, size_t n);
void binary(int op, const float* a, size_t a_step, const float* b, size_t b_step, float* y, size_t n);
void attn_scores(const float* q, const float* k, size_t ld, size_t n, size_t d, float scale, float* scores);
void attn_values(const float* p, const float* v, size_t ld, size_t n, size_t d, float* out);
void attn_scores_f16(const float* q, const uint16_t* k, size_t ld, size_t n, size_t d, float scale, float* scores);
void attn_values_f16(const float* p, const uint16_t* v, size_t ld, size_t n, size_t d, float* out);
void attn_scores_i8(const float* q, const int8_t* k, const float* k_scale, size_t ld, size_t n, size_t d, float scale,
                    float* scores);
void attn_values_i8(const float* p, const int8_t* v, const float* v_scale, size_t ld, size_t n, size_t d, float* out);
// f32 GEMM microkernels (see GemmUkArgs in dispatch.h): scalar std::fma chains. One per SIMD tile, so that
// the reference reads the same packed panels: 6x16 (AVX2), 14x32 (AVX-512), 8x12 (NEON).
void f32_gemm_6x16(size_t mr, size_t nr, size_t kc, const float* a, const float* b, float* c, size_t ldc,
                   const GemmUkArgs& args);
void f32_gemm_14x32(size_t mr, size_t nr, size_t kc, const float* a, const float* b, float* c, size_t ldc,
                    const GemmUkArgs& args);
void f32_gemm_8x12(size_t mr, size_t nr, size_t kc, const float* a, const float* b, float* c, size_t ldc,
                   const GemmUkArgs& args);
// 8-bit integer kernels (see dispatch.h). The reference GEMM's panels are 4x16 with groups of 4 k's.
void quantize_u8(const float* x, size_t n, QParams q, uint8_t* y);
void quantize_rows_u8(const float* x, size_t m, size_t k, size_t ldx, uint8_t* y, size_t ldy, QParams* q);
void finish_rows(float* y, size_t m, size_t n, size_t ldy, const QParams* q, int32_t zfold, const float* wsum,
                 const float* bias, float lo, float hi);
void dequantize_u8(const uint8_t* x, size_t n, QParams q, float* y);
void qadd_u8(const uint8_t* a, size_t as, const uint8_t* b, size_t bs, const QAddParams& p, uint8_t* y, size_t n);
void qgemm(size_t mr, size_t nr, size_t k, const uint8_t* a, size_t lda, const int8_t* b, const int32_t* bias,
           const float* scale, const QRequant& rq, void* c, size_t ldc);
void qdwconv_nhwc(const DwNhwcParams& p, const uint8_t* x, int32_t zx, const int16_t* w, const int32_t* bias,
                  const float* scale, const QRequant& rq, uint8_t* y, int64_t oh0, int64_t oh1);
// sparse kernels (see SparseRows in dispatch.h)
void spmm(const SparseRows& m, size_t x_stride, const float* bias, const ActParams& act, const float* x, float* y,
          size_t y_stride, size_t p0, size_t p1);
void spmv(const SparseRows& m, const float* x, const float* bias, float* y, size_t r0, size_t r1);
void sqgemm(const SparseQ& w, const uint8_t* a, size_t lda, size_t m, const int32_t* bias, const float* scale,
            const QRequant& rq, void* c, size_t ldc, size_t n0, size_t n1);
// The epilogue of one element (bias already added), shared by every kernel's scalar tail.
float gemm_activate(float x, const GemmUkArgs& args);

}  // namespace pyrt::kernels::ref
