// AArch64 kernels. NEON (Advanced SIMD) is baseline on AArch64, so the NEON files need no extra flags;
// crc32c-armv8.cc is compiled with -march=armv8-a+crc and called only when getauxval reports HWCAP_CRC32.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/activation.h"
#include "kernels/dispatch.h"

namespace pyrt::kernels::arm {

uint32_t crc32c_update_armv8(uint32_t crc, const uint8_t* p, size_t n);
void f16_to_f32_neon(const uint16_t* in, float* out, size_t n);
void dequant_i8_neon(const int8_t* q, size_t n, int32_t zp, float scale, float* out);
void dequant_i4_neon(const uint8_t* packed, size_t n, bool is_signed, int32_t zp, float scale, float* out);
void unary_neon(const ActParams& a, const float* x, float* y, size_t n);
void binary_neon(int op, const float* a, size_t a_step, const float* b, size_t b_step, float* y, size_t n);
void attn_scores_neon(const float* q, const float* k, size_t ld, size_t n, size_t d, float scale, float* scores);
void attn_values_neon(const float* p, const float* v, size_t ld, size_t n, size_t d, float* out);
void attn_scores_f16_neon(const float* q, const uint16_t* k, size_t ld, size_t n, size_t d, float scale,
                          float* scores);
void attn_values_f16_neon(const float* p, const uint16_t* v, size_t ld, size_t n, size_t d, float* out);
void attn_scores_i8_neon(const float* q, const int8_t* k, const float* k_scale, size_t ld, size_t n, size_t d,
                         float scale, float* scores);
void attn_values_i8_neon(const float* p, const int8_t* v, const float* v_scale, size_t ld, size_t n, size_t d,
                         float* out);
void dwconv_neon(const DwConvParams& p, const float* x, const float* w, float bias, float* y, float* scratch);
void gemv_i4_neon(const I4Matrix& w, const I8Groups& x, const float* bias, float* y, size_t n0, size_t n1);
void gemm_i4_neon(const I4Matrix& w, const I8Rows& x, const float* bias, float* y, size_t ldy, size_t n0, size_t n1);
void gemm_lut4_neon(const Lut4Matrix& w, const uint8_t* x, size_t ldx, const QParams* q, size_t rows, const float* bias,
                    float lo, float hi, float* y, size_t ldy, size_t n0, size_t n1);
void gemm_lut4_neondot(const Lut4Matrix& w, const uint8_t* x, size_t ldx, const QParams* q, size_t rows,
                       const float* bias, float lo, float hi, float* y, size_t ldy, size_t n0, size_t n1);
// ARMv8.2 dotprod (sdot); only with CpuInfo::dotprod
void gemv_i4_neondot(const I4Matrix& w, const I8Groups& x, const float* bias, float* y, size_t n0, size_t n1);
void gemm_i4_neondot(const I4Matrix& w, const I8Rows& x, const float* bias, float* y, size_t ldy, size_t n0,
                     size_t n1);
void dwconv_nhwc_neon(const DwNhwcParams& p, const float* x, const float* w, const float* bias, const ActParams& act,
                      float* y, int64_t oh0, int64_t oh1);
void f32_gemm_8x12_neon(size_t mr, size_t nr, size_t kc, const float* a, const float* b, float* c, size_t ldc,
                        const GemmUkArgs& args);
// u8 x s8 GEMM (QGemmUkernel), 4x16 tile: widening SMLAL on any ARMv8 (KR = 1, a_offset 0), and SDOT on
// A ^ 0x80 (KR = 4, a_offset 128; ARMv8.2 dotprod, only with CpuInfo::dotprod).
void qgemm_4x16_neon(size_t mr, size_t nr, size_t k, const uint8_t* a, size_t lda, const int8_t* b,
                     const int32_t* bias, const float* scale, const QRequant& rq, void* c, size_t ldc);
void qgemm_4x16c4_neondot(size_t mr, size_t nr, size_t k, const uint8_t* a, size_t lda, const int8_t* b,
                          const int32_t* bias, const float* scale, const QRequant& rq, void* c, size_t ldc);
// u8 depthwise convolution (QDwConvNhwcFn) and the u8 elementwise kernels.
void qdwconv_nhwc_neon(const DwNhwcParams& p, const uint8_t* x, int32_t zx, const int16_t* w, const int32_t* bias,
                       const float* scale, const QRequant& rq, uint8_t* y, int64_t oh0, int64_t oh1);
void quantize_u8_neon(const float* x, size_t n, QParams q, uint8_t* y);
void quantize_rows_u8_neon(const float* x, size_t m, size_t k, size_t ldx, uint8_t* y, size_t ldy, QParams* q);
void finish_rows_neon(float* y, size_t m, size_t n, size_t ldy, const QParams* q, int32_t zfold, const float* wsum,
                      const float* bias, float lo, float hi);
void dequantize_u8_neon(const uint8_t* x, size_t n, QParams q, float* y);
void qadd_u8_neon(const uint8_t* a, size_t a_step, const uint8_t* b, size_t b_step, const QAddParams& p, uint8_t* y,
                  size_t n);
// sparse kernels (SpmmFn / SpmvFn)
void spmm_neon(const SparseRows& m, size_t x_stride, const float* bias, const ActParams& act, const float* x,
               float* y, size_t y_stride, size_t p0, size_t p1);
void spmv_neon(const SparseRows& m, const float* x, const float* bias, float* y, size_t r0, size_t r1);
void sqgemm_neon(const SparseQ& w, const uint8_t* a, size_t lda, size_t m, const int32_t* bias, const float* scale,
                  const QRequant& rq, void* c, size_t ldc, size_t n0, size_t n1);

}  // namespace pyrt::kernels::arm
