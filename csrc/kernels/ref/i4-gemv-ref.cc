// Scalar reference of the int4 x int8 matrix-vector product, and the activation quantization every ISA shares.
#include <cmath>
#include <cstring>

#include "kernels/ref/ref.h"

namespace pyrt::kernels {

namespace {
// plain: q in k order (the int4 GEMM's rows), else chunk-deinterleaved (i4_slot, the GEMV's)
void quantize_groups(const float* x, size_t k, size_t group, int8_t* q, float* scale, int32_t* sum, bool plain) {
  const size_t ng = (k + group - 1) / group, chunk = i4_chunk(group);
  for (size_t g = 0; g < ng; ++g) {
    const size_t c0 = g * group, n = k - c0 < group ? k - c0 : group;
    float amax = 0.f;
    for (size_t i = 0; i < n; ++i) amax = std::fmax(amax, std::fabs(x[c0 + i]));
    const float s = amax / 127.f, inv = amax > 0.f ? 127.f / amax : 0.f;
    int32_t acc = 0;
    for (size_t i = 0; i < group; ++i) {
      // round half to even; |x * inv| <= 127 up to rounding, clamped anyway
      const float v = i < n ? std::nearbyint(x[c0 + i] * inv) : 0.f;
      const int32_t qi = int32_t(std::fmin(127.f, std::fmax(-127.f, v)));
      q[c0 + (plain ? i : i4_slot(i, chunk))] = int8_t(qi);
      acc += qi;
    }
    scale[g] = s;
    sum[g] = acc;
  }
}
}  // namespace

void quantize_i8_groups(const float* x, size_t k, size_t group, int8_t* q, float* scale, int32_t* sum) {
  quantize_groups(x, k, group, q, scale, sum, false);
}

namespace {
void quantize_rows(const float* x, size_t ldx, size_t rows, size_t k, size_t group, int8_t* q, float* scale,
                   int32_t* corr, bool plain) {
  const size_t ng = (k + group - 1) / group;
  for (size_t m = 0; m < rows; ++m) {
    quantize_groups(x + m * ldx, k, group, q + m * ng * group, scale + m * ng, corr + m * ng, plain);
    for (size_t g = 0; g < ng; ++g) corr[m * ng + g] *= -8;
  }
}
}  // namespace

void quantize_i8_rows(const float* x, size_t ldx, size_t rows, size_t k, size_t group, int8_t* q, float* scale,
                      int32_t* corr) {
  quantize_rows(x, ldx, rows, k, group, q, scale, corr, true);
}

void quantize_i8_rows_chunked(const float* x, size_t ldx, size_t rows, size_t k, size_t group, int8_t* q,
                              float* scale, int32_t* corr) {
  quantize_rows(x, ldx, rows, k, group, q, scale, corr, false);
}

namespace ref {

void gemv_i4(const I4Matrix& w, const I8Groups& x, const float* bias, float* y, size_t n0, size_t n1) {
  for (size_t n = n0; n < n1; ++n) {
    float acc = 0.f;
    for (size_t g = 0; g < w.ng; ++g) {
      const size_t gi = n * w.ng + g;
      const uint8_t* b = w.q + gi * w.group / 2;
      const int8_t* xq = x.q + g * w.group;
      const size_t chunk = i4_chunk(w.group);
      int32_t dot = 0;
      for (size_t i = 0; i < w.group; ++i) {
        const int32_t v = (b[i >> 1] >> ((i & 1) * 4)) & 0xF;
        dot += ((v ^ 8) - 8) * xq[i4_slot(i, chunk)];   // signed nibble: [-8, 7]
      }
      const float ws = w.scales_f16 ? f16_to_f32_one(static_cast<const uint16_t*>(w.scales)[gi])
                                    : static_cast<const float*>(w.scales)[gi];
      acc = std::fma(float(dot), ws * x.scale[g], acc);
    }
    y[n] = acc + (bias ? bias[n] : 0.f);
  }
}

}  // namespace ref
}  // namespace pyrt::kernels
