// Scalar reference of the NHWC depthwise convolution: taps in (i, j) order, fused multiply-adds, taps outside
// the input skipped (the SIMD kernels skip the same ones, so they match bit for bit).
#include <cmath>

#include "kernels/ref/ref.h"

namespace pyrt::kernels::ref {

void dwconv_nhwc(const DwNhwcParams& p, const float* x, const float* w, const float* bias, const ActParams& act,
                 float* y, int64_t oh0, int64_t oh1) {
  const bool fused = act.act == Act::kRelu || act.act == Act::kClip;
  for (int64_t oh = oh0; oh < oh1; ++oh)
    for (int64_t ow = 0; ow < p.ow; ++ow)
      for (int64_t c = p.cb; c < p.ce; ++c) {
        float acc = bias ? bias[c] : 0.f;
        for (int64_t i = 0; i < p.kh; ++i) {
          const int64_t ih = oh * p.sh - p.pt + i * p.dh;
          if (ih < 0 || ih >= p.h) continue;
          for (int64_t j = 0; j < p.kw; ++j) {
            const int64_t iw = ow * p.sw - p.pl + j * p.dw;
            if (iw < 0 || iw >= p.w) continue;
            acc = std::fma(w[(i * p.kw + j) * p.c + c], x[(ih * p.w + iw) * p.c + c], acc);
          }
        }
        y[(oh * p.ow + ow) * p.c + c] = fused ? act_one(act, acc) : acc;
      }
}

}  // namespace pyrt::kernels::ref
