// An int8 Linear weight used as stored (Gemm with transB, MatMul with transB): W [N, K] in the file's i8
// encoding, symmetric, one scale per output row (quantize="int8-weights"). Each row of activations is quantized
// on the fly to u8 with its own scale and zero point (from its min and max with 0: ONNX's DynamicQuantizeLinear
// per row, so a row after a ReLU uses all 256 levels; XNNPACK's "qd8-f32-qc8w" scheme is the same idea) and runs
// the u8 x s8 GEMM of static int8 models on the weight's panels, made once per model from the stored bytes: the
// f32 weight is never made. The GEMM folds a zero point of 128; each row's own is corrected after it:
//   y[m][n] = sa[m] * (sw[n] * sum_k (q[m][k] - 128) W[n][k] + (128 - za[m]) * sw[n] * sum_k W[n][k]) + bias[n]
// an exact int32 sum, then the same float steps on every kernel table: every table gives the same result.
#pragma once
#include <cstring>
#include <limits>
#include <vector>

#include "compute/qgemm.h"
#include "ops/common.h"

namespace pyrt::ops {

class Int8Linear {
 public:
  // Whether b (input `input`, a [N, K] weight) is stored i8 per row (or per tensor) without zero points: then
  // this object runs it. A convolution's weight [N, C, kh, kw] gives `channels` = C: its columns are then taken
  // in channels-last im2col order (tap, channel), the order of the rows run() gets.
  bool init(const NodeContext& ctx, size_t input, const ConstTensor& b, size_t channels = 0) {
    if (!b.encoded() || b.desc.shape.size() != (channels ? 4 : 2)) return false;
    const TensorInfo& t = ctx.model().tensors()[b.tensor_index];
    if (t.encoding != spec::kEncI8 || t.p.zero_point || (t.p.axis != 0 && t.p.axis != -1)) return false;
    ctx.model().check_tensor(b.tensor_index);
    n_ = size_t(t.shape[0]), k_ = size_t(t.numel / t.shape[0]);
    const Model& model = ctx.model();
    const size_t tensor = b.tensor_index;
    const kernels::QGemmKernel uk = ctx.kernels().qgemm;
    w_ = ctx.shared<qgemm::Packed>(input, channels ? "qgemm.i8w.nhwc" : "qgemm.i8w", [&] {
      const int8_t* w = reinterpret_cast<const int8_t*>(model.buffer(tensor, 0));
      const size_t taps = channels ? k_ / channels : 1;
      if (taps <= 1) return qgemm::pack(w, n_, k_, uk);
      std::vector<int8_t> t(n_ * k_);  // [N][tap][C] from [N][C][tap]
      for (size_t o = 0; o < n_; ++o)
        for (size_t c = 0; c < channels; ++c)
          for (size_t k = 0; k < taps; ++k) t[o * k_ + k * channels + c] = w[(o * channels + c) * taps + k];
      return qgemm::pack(t.data(), n_, k_, uk);
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
  // The quantized rows (K padded to the kernel's groups) and their parameters.
  size_t workspace_bytes(int64_t rows) const {
    return align64(size_t(rows) * w_->kp) + align64(size_t(rows) * sizeof(kernels::QParams));
  }

  // y[m] = act(W a[m] + bias) for m < rows (bias: N values, or null); rows of K and N floats. ws: workspace_bytes(rows)
  // (default: the node's workspace). Returns whether act was applied: None, Relu and Clip are, as the rows are
  // finished; the caller applies any other.
  bool run(const RunContext& ctx, const kernels::Table& kt, const float* a, int64_t rows, const float* bias,
           float* y, const ActParams& act = {}, void* ws = nullptr) const {
    const size_t M = size_t(rows), kp = w_->kp;
    uint8_t* aq = static_cast<uint8_t*>(ws ? ws : ctx.workspace);
    kernels::QParams* q = reinterpret_cast<kernels::QParams*>(aq + align64(M * kp));
    parallel(ctx, M, 16, [&](size_t b, size_t e, int) { kt.quantize_rows_u8(a + b * k_, e - b, k_, k_, aq + b * kp, kp, q + b); });
    const kernels::QRequant rq{0.f, 0.f, 0, true};
    qgemm::run(aq, kp, M, *w_, bias_.data(), scale_.data(), rq, y, n_, ctx.pool, true);
    const float inf = std::numeric_limits<float>::infinity();
    const bool fused = act.act == Act::kNone || act.act == Act::kRelu || act.act == Act::kClip;
    const float lo = act.act == Act::kRelu ? 0.f : act.act == Act::kClip ? act.p0 : -inf;
    const float hi = act.act == Act::kClip ? act.p1 : inf;
    parallel(ctx, M, 16, [&](size_t b, size_t e, int) {
      kt.finish_rows(y + b * n_, e - b, n_, n_, q + b, kZero, wsum_scaled_.data(), bias, fused ? lo : -inf,
                     fused ? hi : inf);
    });
    return fused;
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
