// int4 x int8 GEMV with the ARMv8.2 dotprod extension (Cortex-A55/A76 and later, e.g. Raspberry Pi 5): sdot
// sums four products per int32 lane in one instruction. Built with +dotprod; called only when the CPU has it.
// Loop: kernels/arm/i4_gemv_neon.h.
#include "kernels/arm/arm.h"
#include "kernels/arm/i4_gemv_neon.h"

namespace pyrt::kernels::arm {
namespace {

struct SdotDot {
  static int32x4_t acc(int32x4_t p, int8x16_t w, int8x16_t x) { return vdotq_s32(p, w, x); }
};

}  // namespace

void gemv_i4_neondot(const I4Matrix& w, const I8Groups& x, const float* bias, float* y, size_t n0, size_t n1) {
  i4gemv::gemv<SdotDot>(w, x, bias, y, n0, n1);
}
void gemm_i4_neondot(const I4Matrix& w, const I8Rows& x, const float* bias, float* y, size_t ldy, size_t n0, size_t n1) {
  i4gemv::gemm<SdotDot>(w, x, bias, y, ldy, n0, n1);
}

}  // namespace pyrt::kernels::arm
