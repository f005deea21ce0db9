// An int8 Linear weight used as stored (Gemm with transB, MatMul with transB): W [N, K] in the file's i8
// encoding, symmetric, one scale per output row (quantize="int8-weights"). Each row of activations is quantized
// on the fly to u8 with its own scale and zero point (from its min and max with 0: ONNX's DynamicQuantizeLinear
// per row, so a row after a ReLU uses all 256 levels; XNNPACK's "qd8-f32-qc8w" scheme is the same idea) and runs
// the u8 x s8 GEMM of static int8 models on the weight's panels, made once per model from the stored bytes: the
// f32 weight is never made. The GEMM folds a zero point of 128; each row's own is corrected after it:
//   y[m][n] = sa[m] * (sw[n] * sum_k (q[m][k] - 128) W[n][k] + (128 - za[m]) * sw[n] * sum_k W[n][k]) + bias[n]
// an exact int32 sum, then the same float steps on every kernel table: every table gives the same result.
#pragma once
#include <cmath>
#include <cstring>
#include <vector>

#include "compute/qgemm.h"
#include "ops/common.h"

namespace pyrt::ops {

class Int8Linear {
 public:
  // Whether b (input `input`, a [N, K] weight) is stored i8 per row (or per tensor) without zero points: then
  // this object runs it.
  bool init(const NodeContext& ctx, size_t input, const ConstTensor& b) {
    if (!b.encoded() || b.desc.shape.size() != 2) return false;
    const TensorInfo& t = ctx.model().tensors()[b.tensor_index];
    if (t.encoding != spec::kEncI8 || t.p.zero_point || t.p.axis == 1) return false;
    ctx.model().check_tensor(b.tensor_index);
    n_ = size_t(t.shape[0]), k_ = size_t(t.shape[1]);
    const Model& model = ctx.model();
    const size_t tensor = b.tensor_index;
    const kernels::QGemmKernel uk = ctx.kernels().qgemm;
    w_ = ctx.shared<qgemm::Packed>(input, "qgemm.i8w", [&] {
      return qgemm::pack(reinterpret_cast<const int8_t*>(model.buffer(tensor, 0)), n_, k_, uk);
    });
    const uint8_t* s = model.buffer(tensor, 1);
    scale_.resize(n_), wsum_scaled_.resize(n_);
    for (size_t n = 0; n < n_; ++n) {
      std::memcpy(&scale_[n], s + 4 * (t.p.axis == 0 ? n : 0), 4);  // unaligned f32
      wsum_scaled_[n] = scale_[n] * float(w_->wsum[n]);
    }
    bias_ = qgemm::fold_bias(*w_, nullptr, kZero);
    return true;
  }
  bool active() const { return w_ != nullptr; }
  int64_t n() const { return int64_t(n_); }
  int64_t k() const { return int64_t(k_); }
  // The quantized rows (K padded to the kernel's groups), their scales and zero points.
  size_t workspace_bytes(int64_t rows) const { return align64(size_t(rows) * w_->kp) + 2 * align64(size_t(rows) * 4); }

  // y[m] = W a[m] (+ bias: N values, or null) for m < rows; rows of K and N floats.
  void run(const RunContext& ctx, const kernels::Table& kt, const float* a, int64_t rows, const float* bias,
           float* y) const {
    const size_t M = size_t(rows), kp = w_->kp;
    uint8_t* aq = static_cast<uint8_t*>(ctx.workspace);
    float* sa = reinterpret_cast<float*>(aq + align64(M * kp));
    int32_t* za = reinterpret_cast<int32_t*>(aq + align64(M * kp) + align64(M * 4));
    parallel(ctx, M, 4, [&](size_t b, size_t e, int) {
      for (size_t m = b; m < e; ++m) {
        const float* x = a + m * k_;
        float lo = 0.f, hi = 0.f;
        for (size_t k = 0; k < k_; ++k) lo = std::fmin(lo, x[k]), hi = std::fmax(hi, x[k]);
        // a row of zeros (or with a value that is not finite) keeps scale 1: the sums say what f32 math says
        const bool ok = hi - lo > 0.f && std::isfinite(hi - lo);
        sa[m] = ok ? (hi - lo) / 255.f : 1.f;
        za[m] = ok ? int32_t(std::nearbyint(-lo / sa[m])) : kZero;
        kt.quantize_u8(x, k_, {sa[m], za[m]}, aq + m * kp);
        std::memset(aq + m * kp + k_, 0, kp - k_);  // W is zero there
      }
    });
    const kernels::QRequant rq{0.f, 0.f, 0, true};
    qgemm::run(aq, kp, M, *w_, bias_.data(), scale_.data(), rq, y, n_, ctx.pool, true);
    parallel(ctx, M, 16, [&](size_t b, size_t e, int) {
      for (size_t m = b; m < e; ++m) {
        float* ym = y + m * n_;
        const float dz = float(kZero - za[m]);
        if (bias)
          for (size_t n = 0; n < n_; ++n) ym[n] = (ym[n] + dz * wsum_scaled_[n]) * sa[m] + bias[n];
        else
          for (size_t n = 0; n < n_; ++n) ym[n] = (ym[n] + dz * wsum_scaled_[n]) * sa[m];
      }
    });
  }

 private:
  static constexpr int32_t kZero = 128;
  size_t n_ = 0, k_ = 0;
  std::shared_ptr<const qgemm::Packed> w_;
  std::vector<float> scale_;        // per output row: the weight's scale
  std::vector<float> wsum_scaled_;  // ... times the sum of its weights (the zero point's share)
  std::vector<int32_t> bias_;  // the zero point's share, folded per row
};

}  // namespace pyrt::ops
