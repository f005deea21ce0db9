// Shared-values (lut, 4-bit) GEMM on any ARMv8: tbl lookups, widening multiplies (smull) pairwise-accumulated
// into int32 lanes (sadalp). Loop: kernels/arm/lut4_gemm_neon.h.
#include "kernels/arm/arm.h"
#include "kernels/arm/lut4_gemm_neon.h"

namespace pyrt::kernels::arm {
namespace {

struct SmullDot {  // |x - 128| * |w| <= 16256: two products fit an int16 lane before sadalp
  static int32x4_t acc(int32x4_t p, int8x16_t w, int8x16_t x) {
    p = vpadalq_s16(p, vmull_s8(vget_low_s8(w), vget_low_s8(x)));
    return vpadalq_s16(p, vmull_high_s8(w, x));
  }
};

}  // namespace

void gemm_lut4_neon(const Lut4Matrix& w, const uint8_t* x, size_t ldx, const QParams* q, size_t rows, const float* bias,
                    float lo, float hi, float* y, size_t ldy, size_t n0, size_t n1) {
  lut4::gemm<SmullDot>(w, x, ldx, q, rows, bias, lo, hi, y, ldy, n0, n1);
}

}  // namespace pyrt::kernels::arm
