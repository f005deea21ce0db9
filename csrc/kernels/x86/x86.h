// AVX2/F16C/SSE4.2 and AVX-512 kernels. Each .cc here is compiled with its own -m flags and only called after the CPU
// check in dispatch.cc.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/activation.h"
#include "kernels/dispatch.h"

namespace pyrt::kernels::x86 {

uint32_t crc32c_update_sse42(uint32_t crc, const uint8_t* p, size_t n);
void f16_to_f32_f16c(const uint16_t* in, float* out, size_t n);
void dequant_i8_avx2(const int8_t* q, size_t n, int32_t zp, float scale, float* out);
void dwconv_avx512(const DwConvParams& p, const float* x, const float* w, float bias, float* y, float* scratch);
// The padded-plane row copy with an AVX2 deinterleave for stride 2 (dwplane::RowCopy contract).
void copy_row_phases_avx2(const float* xr, int64_t pl, int64_t c0, int64_t c1, int64_t s, int64_t qw,
                          float* base);
void dwconv_avx2(const DwConvParams& p, const float* x, const float* w, float bias, float* y, float* scratch);
void dwconv_nhwc_avx2(const DwNhwcParams& p, const float* x, const float* w, const float* bias, const ActParams& act,
                      float* y, int64_t oh0, int64_t oh1);
void dwconv_nhwc_avx512(const DwNhwcParams& p, const float* x, const float* w, const float* bias,
                        const ActParams& act, float* y, int64_t oh0, int64_t oh1);
void gemv_i4_avx2(const I4Matrix& w, const I8Groups& x, const float* bias, float* y, size_t n0, size_t n1);
void gemv_i4_avx512vnni(const I4Matrix& w, const I8Groups& x, const float* bias, float* y, size_t n0, size_t n1);
void gemm_i4_avx512vnni(const I4Matrix& w, const I8Rows& x, const float* bias, float* y, size_t ldy, size_t n0,
                        size_t n1);
void quantize_i8_rows_avx512(const float* x, size_t ldx, size_t rows, size_t k, size_t group, int8_t* q, float* scale,
                             int32_t* corr);
void gemm_lut4_avx512vnni(const Lut4Matrix& w, const uint8_t* x, size_t ldx, const QParams* q, size_t rows,
                          const float* bias, float lo, float hi, float* y, size_t ldy, size_t n0, size_t n1);
size_t i4_pack_size_avx512vnni(const I4Matrix& w);
void i4_pack_avx512vnni(const I4Matrix& w, uint8_t* dst);
void unary_avx2(const ActParams& a, const float* x, float* y, size_t n);
void binary_avx2(int op, const float* a, size_t a_step, const float* b, size_t b_step, float* y, size_t n);
void attn_scores_avx2(const float* q, const float* k, size_t ld, size_t n, size_t d, float scale, float* scores);
void attn_values_avx2(const float* p, const float* v, size_t ld, size_t n, size_t d, float* out);
void attn_scores_f16_avx2(const float* q, const uint16_t* k, size_t ld, size_t n, size_t d, float scale,
                          float* scores);
void attn_values_f16_avx2(const float* p, const uint16_t* v, size_t ld, size_t n, size_t d, float* out);
void attn_scores_i8_avx2(const float* q, const int8_t* k, const float* k_scale, size_t ld, size_t n, size_t d,
                         float scale, float* scores);
void attn_values_i8_avx2(const float* p, const int8_t* v, const float* v_scale, size_t ld, size_t n, size_t d,
                         float* out);
void dequant_i4_avx2(const uint8_t* packed, size_t n, bool is_signed, int32_t zp, float scale, float* out);
void f32_gemm_6x16_avx2(size_t mr, size_t nr, size_t kc, const float* a, const float* b, float* c, size_t ldc,
                        const GemmUkArgs& args);
// AVX-512F (+VL/BW/DQ) 14x32 tile.
void f32_gemm_14x32_avx512(size_t mr, size_t nr, size_t kc, const float* a, const float* b, float* c, size_t ldc,
                           const GemmUkArgs& args);
void f32_gemm_14x32_ua_avx512(size_t mr, size_t nr, size_t kc, const float* a, size_t lda, const float* b, float* c,
                              size_t ldc, const GemmUkArgs& args);
// u8 x s8 GEMM (QGemmUkernel): 12x32 tile with vpdpbusd (AVX-512 VNNI), 6x16 with vpmaddwd (AVX2, exact).
void qgemm_12x32c4_avx512vnni(size_t mr, size_t nr, size_t k, const uint8_t* a, size_t lda, const int8_t* b,
                              const int32_t* bias, const float* scale, const QRequant& rq, void* c, size_t ldc);
void qgemm_6x16c2_avx2(size_t mr, size_t nr, size_t k, const uint8_t* a, size_t lda, const int8_t* b,
                       const int32_t* bias, const float* scale, const QRequant& rq, void* c, size_t ldc);
// u8 depthwise convolution (QDwConvNhwcFn) and the u8 elementwise kernels, AVX2 (+FMA for qadd).
// u8 depthwise NHWC (QDwConvNhwcFn) with vpdpwssd on even/odd channel words (AVX-512 VNNI).
void qdwconv_nhwc_avx512vnni(const DwNhwcParams& p, const uint8_t* x, int32_t zx, const int16_t* w,
                             const int32_t* bias, const float* scale, const QRequant& rq, uint8_t* y, int64_t oh0,
                             int64_t oh1);
void qdwconv_nhwc_avx2(const DwNhwcParams& p, const uint8_t* x, int32_t zx, const int16_t* w, const int32_t* bias,
                       const float* scale, const QRequant& rq, uint8_t* y, int64_t oh0, int64_t oh1);
void quantize_u8_avx2(const float* x, size_t n, QParams q, uint8_t* y);
void quantize_rows_u8_avx2(const float* x, size_t m, size_t k, size_t ldx, uint8_t* y, size_t ldy, QParams* q);
void finish_rows_avx2(float* y, size_t m, size_t n, size_t ldy, const QParams* q, int32_t zfold, const float* wsum,
                      const float* bias, float lo, float hi);
void dequantize_u8_avx2(const uint8_t* x, size_t n, QParams q, float* y);
void qadd_u8_avx2(const uint8_t* a, size_t a_step, const uint8_t* b, size_t b_step, const QAddParams& p, uint8_t* y,
                  size_t n);
// sparse kernels (SpmmFn / SpmvFn)
void spmm_avx2(const SparseRows& m, size_t x_stride, const float* bias, const ActParams& act, const float* x,
               float* y, size_t y_stride, size_t p0, size_t p1);
void spmv_avx2(const SparseRows& m, const float* x, const float* bias, float* y, size_t r0, size_t r1);
void spmm_avx512(const SparseRows& m, size_t x_stride, const float* bias, const ActParams& act, const float* x,
                 float* y, size_t y_stride, size_t p0, size_t p1);
void spmv_avx512(const SparseRows& m, const float* x, const float* bias, float* y, size_t r0, size_t r1);
size_t spmv_pack_size_avx512(const SparseRows& m);
void spmv_pack_avx512(const SparseRows& m, uint8_t* dst);
void sqgemm_avx512vbmi(const SparseQ& w, const uint8_t* a, size_t lda, size_t m, const int32_t* bias, const float* scale,
                  const QRequant& rq, void* c, size_t ldc, size_t n0, size_t n1);

}  // namespace pyrt::kernels::x86
