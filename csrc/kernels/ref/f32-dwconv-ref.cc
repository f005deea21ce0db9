// Scalar reference for one channel of a depthwise convolution: taps in (i, j) order, fused multiply-adds,
// zero taps outside the input included (so SIMD versions, which read a zero-padded plane, match exactly).
#include <cmath>

#include "kernels/ref/ref.h"

namespace pyrt::kernels::ref {

void dwconv(const DwConvParams& p, const float* x, const float* w, float bias, float* y, float*) {
  for (int64_t oh = 0; oh < p.oh; ++oh)
    for (int64_t ow = 0; ow < p.ow; ++ow) {
      float acc = bias;
      for (int64_t i = 0; i < p.kh; ++i) {
        const int64_t ih = oh * p.sh - p.pt + i * p.dh;
        for (int64_t j = 0; j < p.kw; ++j) {
          const int64_t iw = ow * p.sw - p.pl + j * p.dw;
          const float v = (ih >= 0 && ih < p.h && iw >= 0 && iw < p.w) ? x[ih * p.w + iw] : 0.f;
          acc = std::fma(w[i * p.kw + j], v, acc);
        }
      }
      y[oh * p.ow + ow] = acc;
    }
}

}  // namespace pyrt::kernels::ref
