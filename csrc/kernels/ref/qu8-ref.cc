// Scalar references of the u8 elementwise kernels: quantize, dequantize, quantized Add. Written so that the
// compiler vectorizes them (round_even instead of nearbyint), since tables without a SIMD version use them.
#include <cmath>
#include <cstring>

#include "kernels/ref/ref.h"

namespace pyrt::kernels::ref {

void quantize_u8(const float* x, size_t n, QParams q, uint8_t* y) {
  const float lo = float(-q.zp), hi = float(255 - q.zp);
  for (size_t i = 0; i < n; ++i) {
    float v = x[i] / q.scale;
    v = !(v >= lo) ? lo : v > hi ? hi : v;  // NaN -> the zero point's low end, never undefined
    y[i] = uint8_t(int32_t(round_even(v)) + q.zp);
  }
}

void quantize_rows_u8(const float* x, size_t m, size_t k, size_t ldx, uint8_t* y, size_t ldy, QParams* q) {
  for (size_t r = 0; r < m; ++r) {
    const float* xr = x + r * ldx;
    float lo = 0.f, hi = 0.f, nf = 0.f;
    for (size_t i = 0; i < k; ++i) {  // a NaN compares false: ignored, as the SIMD min / max ignore it
      lo = xr[i] < lo ? xr[i] : lo;
      hi = xr[i] > hi ? xr[i] : hi;
      nf += xr[i] * 0.f;              // NaN once a NaN or an infinity was seen
    }
    q[r] = row_qparams(lo, hi, nf == 0.f);
    quantize_u8(xr, k, q[r], y + r * ldy);
    std::memset(y + r * ldy + k, 0, ldy - k);
  }
}

void finish_rows(float* y, size_t m, size_t n, size_t ldy, const QParams* q, int32_t zfold, const float* wsum,
                 const float* bias, float lo, float hi) {
  for (size_t r = 0; r < m; ++r) {
    float* yr = y + r * ldy;
    const float dz = float(zfold - q[r].zp), s = q[r].scale;
    for (size_t c = 0; c < n; ++c) {
      float v = std::fma(std::fma(dz, wsum[c], yr[c]), s, bias ? bias[c] : 0.f);
      v = v < lo ? lo : v;  // NaN passes, as the SIMD max(lo, v) / min(hi, v) let it
      yr[c] = v > hi ? hi : v;
    }
  }
}

void dequantize_u8(const uint8_t* x, size_t n, QParams q, float* y) {
  for (size_t i = 0; i < n; ++i) y[i] = float(int32_t(x[i]) - q.zp) * q.scale;
}

void qadd_u8(const uint8_t* a, size_t as, const uint8_t* b, size_t bs, const QAddParams& p, uint8_t* y, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const float v = std::fma(float(int32_t(b[i * bs]) - p.zb), p.mb, float(int32_t(a[i * as]) - p.za) * p.ma);
    const float c = v < p.rq.lo ? p.rq.lo : v > p.rq.hi ? p.rq.hi : v;
    y[i] = uint8_t(int32_t(round_even(c)) + p.rq.zp);
  }
}

void qgemm(size_t mr, size_t nr, size_t k, const uint8_t* a, size_t lda, const int8_t* b, const int32_t* bias,
           const float* scale, const QRequant& rq, void* c, size_t ldc) {
  constexpr size_t NR = 16, KR = 4;  // the reference table's panel layout
  for (size_t r = 0; r < mr; ++r)
    for (size_t j = 0; j < nr; ++j) {
      int32_t acc = bias[j];
      for (size_t t = 0; t < k; ++t) acc += int32_t(a[r * lda + t]) * int32_t(b[(t / KR * NR + j) * KR + t % KR]);
      if (rq.f32_out) static_cast<float*>(c)[r * ldc + j] = float(acc) * scale[j];
      else static_cast<uint8_t*>(c)[r * ldc + j] = requant_one(acc, scale[j], rq);
    }
}

void qdwconv_nhwc(const DwNhwcParams& p, const uint8_t* x, int32_t zx, const int16_t* w, const int32_t* bias,
                  const float* scale, const QRequant& rq, uint8_t* y, int64_t oh0, int64_t oh1) {
  for (int64_t oh = oh0; oh < oh1; ++oh)
    for (int64_t ow = 0; ow < p.ow; ++ow)
      for (int64_t c = p.cb; c < p.ce; ++c) {
        int32_t acc = bias[c];
        for (int64_t i = 0; i < p.kh; ++i) {
          const int64_t ih = oh * p.sh - p.pt + i * p.dh;
          if (ih < 0 || ih >= p.h) continue;
          for (int64_t j = 0; j < p.kw; ++j) {
            const int64_t iw = ow * p.sw - p.pl + j * p.dw;
            if (iw < 0 || iw >= p.w) continue;
            acc += (int32_t(x[(ih * p.w + iw) * p.c + c]) - zx) * int32_t(w[(i * p.kw + j) * p.c + c]);
          }
        }
        y[(oh * p.ow + ow) * p.c + c] = requant_one(acc, scale[c], rq);
      }
}

}  // namespace pyrt::kernels::ref
