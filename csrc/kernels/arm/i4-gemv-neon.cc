// int4 x int8 GEMV on any ARMv8 (Cortex-A53/A72 class): widening multiplies (smull) pairwise-accumulated into
// int32 lanes (sadalp). Loop: kernels/arm/i4_gemv_neon.h.
#include "kernels/arm/arm.h"
#include "kernels/arm/i4_gemv_neon.h"

namespace pyrt::kernels::arm {
namespace {

struct SmullDot {
  static int32x4_t acc(int32x4_t p, int8x16_t w, int8x16_t x) {
    p = vpadalq_s16(p, vmull_s8(vget_low_s8(w), vget_low_s8(x)));
    return vpadalq_s16(p, vmull_high_s8(w, x));
  }
};

}  // namespace

void gemv_i4_neon(const I4Matrix& w, const I8Groups& x, const float* bias, float* y, size_t n0, size_t n1) {
  i4gemv::gemv<SmullDot>(w, x, bias, y, n0, n1);
}
void gemm_i4_neon(const I4Matrix& w, const I8Rows& x, const float* bias, float* y, size_t ldy, size_t n0, size_t n1) {
  i4gemv::gemm<SmullDot>(w, x, bias, y, ldy, n0, n1);
}

}  // namespace pyrt::kernels::arm
