// Scalar reference f32 GEMM microkernels, one per SIMD tile (6x16 AVX2, 14x32 AVX-512, 8x12 NEON). One std::fma chain per element, in k order, then
// bias, then the activation: exactly the operation order of the SIMD kernels, so they match it bit for bit.
#include <cmath>

#include "kernels/activation.h"
#include "kernels/ref/ref.h"

namespace pyrt::kernels::ref {

float gemm_activate(float x, const GemmUkArgs& p) {
  // Written as the SIMD instructions behave (max_ps/min_ps return the 2nd operand when unordered).
  switch (Act(p.act)) {
    case Act::kRelu:
      return x > 0.f ? x : 0.f;
    case Act::kClip: {
      const float y = x > p.p0 ? x : p.p0;
      return y < p.p1 ? y : p.p1;
    }
    case Act::kLeakyRelu:
      return x < 0.f ? x * p.p0 : x;
    default:
      return x;
  }
}

namespace {
template <size_t MR, size_t NR>
void gemm_tile(size_t mr, size_t nr, size_t kc, const float* a, const float* b, float* c, size_t ldc,
               const GemmUkArgs& p) {
  for (size_t i = 0; i < mr; ++i)
    for (size_t j = 0; j < nr; ++j) {
      float* out = c + i * ldc + j;
      float acc = (p.flags & kGemmLoadC) ? *out : 0.f;
      for (size_t k = 0; k < kc; ++k) acc = std::fma(a[k * MR + i], b[k * NR + j], acc);
      if (p.flags & kGemmFinal) {
        if (p.bias_row) acc += p.bias_row[i];
        if (p.bias_col) acc += p.bias_col[j];
        acc = gemm_activate(acc, p);
      }
      *out = acc;
    }
}
}  // namespace

void f32_gemm_6x16(size_t mr, size_t nr, size_t kc, const float* a, const float* b, float* c, size_t ldc,
                   const GemmUkArgs& p) {
  gemm_tile<6, 16>(mr, nr, kc, a, b, c, ldc, p);
}

void f32_gemm_14x32(size_t mr, size_t nr, size_t kc, const float* a, const float* b, float* c, size_t ldc,
                    const GemmUkArgs& p) {
  gemm_tile<14, 32>(mr, nr, kc, a, b, c, ldc, p);
}

void f32_gemm_8x12(size_t mr, size_t nr, size_t kc, const float* a, const float* b, float* c, size_t ldc,
                   const GemmUkArgs& p) {
  gemm_tile<8, 12>(mr, nr, kc, a, b, c, ldc, p);
}

}  // namespace pyrt::kernels::ref
