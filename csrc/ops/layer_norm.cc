// LayerNormalization and RMSNormalization (ONNX opset 23; Llama-style decoders) over the trailing dims from `axis`.
#include <cmath>

#include "ops/common.h"

namespace pyrt::ops {
namespace {

// LayerNormalization: (x - mean) / sqrt(var + eps) * scale + bias.
// RMSNormalization:   x / sqrt(mean(x^2) + eps) * scale (scale required, no bias).
class LayerNorm final : public Op {
 public:
  explicit LayerNorm(const NodeContext& ctx) : rms_(ctx.node().op_type == "RMSNormalization") {
    if (rms_) ctx.expect_inputs(2, 2);
    else ctx.expect_inputs(1, 3);
    axis_ = ctx.attr_int("axis", -1);
    eps_ = ctx.attr_float("epsilon", 1e-5f);
    // scale / bias: constants are read once here; graph or computed inputs (small vectors) are read in run().
    if (ctx.has_input(1)) {
      if (ctx.const_input(1)) scale_ = ctx.require_const(1, "scale", spec::kF32).f32(), ns_ = ctx.require_const(1, "scale").desc.numel();
      else scale_rt_ = true;
    }
    if (ctx.has_input(2)) {
      if (ctx.const_input(2)) bias_ = ctx.require_const(2, "bias", spec::kF32).f32(), nb_ = ctx.require_const(2, "bias").desc.numel();
      else bias_rt_ = true;
    }
    if (rms_ && !ctx.has_input(1)) ctx.fail("RMSNormalization needs its scale input");
    if (ctx.num_outputs() > (rms_ ? 1u : 3u)) ctx.fail("too many outputs");
  }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    require_f32(*this, in[0], "input");
    const Shape& x = in[0].shape;
    const int64_t a = norm_axis(*this, axis_, x.size());
    inner_ = 1;
    for (size_t i = size_t(a); i < x.size(); ++i) inner_ *= size_t(x[i]);
    rows_ = inner_ ? size_t(numel(x)) / inner_ : 0;
    if (scale_rt_) require_f32(*this, in[1], "scale"), ns_ = in[1].numel();
    if (bias_rt_) require_f32(*this, in[2], "bias"), nb_ = in[2].numel();
    if (((scale_ || scale_rt_) && size_t(ns_) != inner_) || ((bias_ || bias_rt_) && size_t(nb_) != inner_))
      fail("scale/bias must have " + std::to_string(inner_) + " values");
    out[0] = in[0];
    // LayerNormalization's optional Mean and InvStdDev: X's shape with the normalized dims set to 1
    Shape st = x;
    for (size_t i = size_t(a); i < st.size(); ++i) st[i] = 1;
    for (size_t k = 1; k < out.size(); ++k) out[k] = {st, spec::kF32};
  }
  int inplace_input() const override { return 0; }
  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    // constants read at run through in[]: the session may have copied a small one out of the mapping since
    if (scale_) scale_ = static_cast<const float*>(in[1]);
    if (bias_) bias_ = static_cast<const float*>(in[2]);
    const float* x = static_cast<const float*>(in[0]);
    float* y = static_cast<float*>(out[0]);
    const float* scale = scale_rt_ ? static_cast<const float*>(in[1]) : scale_;
    const float* bias = bias_rt_ ? static_cast<const float*>(in[2]) : bias_;
    float* mean_out = out.size() > 1 ? static_cast<float*>(out[1]) : nullptr;
    float* inv_out = out.size() > 2 ? static_cast<float*>(out[2]) : nullptr;
    parallel(ctx, rows_, 4, [&](size_t b, size_t e, int) {
      for (size_t r = b; r < e; ++r) {
        const float* xr = x + r * inner_;
        float* yr = y + r * inner_;
        double mean = 0, var = 0;  // RMS: the mean square about 0
        if (!rms_) {
          for (size_t i = 0; i < inner_; ++i) mean += xr[i];
          mean /= double(inner_);
        }
        for (size_t i = 0; i < inner_; ++i) var += (xr[i] - mean) * (xr[i] - mean);
        const float inv = float(1.0 / std::sqrt(var / double(inner_) + eps_));
        if (mean_out) mean_out[r] = float(mean);
        if (inv_out) inv_out[r] = inv;
        for (size_t i = 0; i < inner_; ++i) {
          float v = (xr[i] - float(mean)) * inv;
          if (scale) v *= scale[i];
          if (bias) v += bias[i];
          yr[i] = v;
        }
      }
    });
  }
  std::string kernel() const override { return rms_ ? "rmsnorm-ref" : "layernorm-ref"; }

 private:
  bool rms_;
  int64_t axis_;
  float eps_;
  const float* scale_ = nullptr;
  const float* bias_ = nullptr;
  bool scale_rt_ = false, bias_rt_ = false;  // read from the run's inputs
  int64_t ns_ = 0, nb_ = 0;
  size_t rows_ = 0, inner_ = 0;
};

}  // namespace

std::unique_ptr<Op> make_layer_norm(const NodeContext& ctx) { return std::make_unique<LayerNorm>(ctx); }

}  // namespace pyrt::ops
