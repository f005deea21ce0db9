// The shared-values (lut, 4-bit) GEMM's scalar truth: exact int32 sums in plain k order, then the one float
// finish every table repeats (see GemmLut4Fn).
#include <cmath>

#include "base/scalar_codecs.h"
#include "kernels/ref/ref.h"

namespace pyrt::kernels::ref {

void gemm_lut4(const Lut4Matrix& w, const uint8_t* x, size_t ldx, const QParams* q, size_t rows, const float* bias,
               float lo, float hi, float* y, size_t ldy, size_t n0, size_t n1) {
  for (size_t n = n0; n < n1; ++n) {
    const uint8_t* codes = w.codes + n * (w.k / 2);
    const int8_t* t = w.table + n * 16;
    for (size_t m = 0; m < rows; ++m) {
      const uint8_t* xm = x + m * ldx;
      int32_t acc = 0;
      for (size_t k = 0; k < w.k; ++k) acc += int32_t(xm[k]) * t[scalar::nibble(codes, k)];
      float v = std::fma(float(acc - q[m].zp * w.wsum[n]), q[m].scale * w.scale[n], bias ? bias[n] : 0.f);
      v = v < lo ? lo : v;  // NaN passes, as the SIMD max(lo, v) / min(hi, v) let it
      y[m * ldy + n] = v > hi ? hi : v;
    }
  }
}

}  // namespace pyrt::kernels::ref
