// Shared-values (lut, 4-bit) GEMM with the ARMv8.2 dotprod extension: tbl lookups into sdot, four products per
// int32 lane an instruction. Built with +dotprod; called only when the CPU has it. Loop: kernels/arm/lut4_gemm_neon.h.
#include "kernels/arm/arm.h"
#include "kernels/arm/lut4_gemm_neon.h"

namespace pyrt::kernels::arm {
namespace {

struct SdotDot {
  static int32x4_t acc(int32x4_t p, int8x16_t w, int8x16_t x) { return vdotq_s32(p, w, x); }
};

}  // namespace

void gemm_lut4_neondot(const Lut4Matrix& w, const uint8_t* x, size_t ldx, const QParams* q, size_t rows,
                       const float* bias, float lo, float hi, float* y, size_t ldy, size_t n0, size_t n1) {
  lut4::gemm<SdotDot>(w, x, ldx, q, rows, bias, lo, hi, y, ldy, n0, n1);
}

}  // namespace pyrt::kernels::arm
