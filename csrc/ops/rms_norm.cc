// RMSNormalization (ONNX opset 23; Llama-style decoders): y = x / sqrt(mean(x^2) + epsilon) * scale over the
// trailing dims from `axis`.
#include <cmath>

#include "ops/common.h"

namespace pyrt::ops {
namespace {

class RmsNorm final : public Op {
 public:
  explicit RmsNorm(const NodeContext& ctx) {
    ctx.expect_inputs(2, 2);
    axis_ = ctx.attr_int("axis", -1);
    eps_ = ctx.attr_float("epsilon", 1e-5f);
    const ConstTensor& s = ctx.require_const(1, "scale", spec::kF32);
    scale_ = s.f32(), ns_ = s.desc.numel();
    if (ctx.num_outputs() != 1) ctx.fail("has one output");
  }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    require_f32(*this, in[0], "input");
    const Shape& x = in[0].shape;
    const int64_t a = norm_axis(*this, axis_, x.size());
    inner_ = 1;
    for (size_t i = size_t(a); i < x.size(); ++i) inner_ *= size_t(x[i]);
    rows_ = inner_ ? size_t(numel(x)) / inner_ : 0;
    if (size_t(ns_) != inner_) fail("scale must have " + std::to_string(inner_) + " values");
    out[0] = in[0];
  }
  int inplace_input() const override { return 0; }
  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const float* x = static_cast<const float*>(in[0]);
    float* y = static_cast<float*>(out[0]);
    parallel(ctx, rows_, 4, [&](size_t b, size_t e, int) {
      for (size_t r = b; r < e; ++r) {
        const float* xr = x + r * inner_;
        double ss = 0;
        for (size_t i = 0; i < inner_; ++i) ss += double(xr[i]) * xr[i];
        const float inv = float(1.0 / std::sqrt(ss / double(inner_) + eps_));
        for (size_t i = 0; i < inner_; ++i) y[r * inner_ + i] = xr[i] * inv * scale_[i];
      }
    });
  }
  std::string kernel() const override { return "rmsnorm-ref"; }

 private:
  int64_t axis_;
  float eps_;
  const float* scale_ = nullptr;
  int64_t ns_ = 0;
  size_t rows_ = 0, inner_ = 0;
};

}  // namespace

std::unique_ptr<Op> make_rms_norm(const NodeContext& ctx) { return std::make_unique<RmsNorm>(ctx); }

}  // namespace pyrt::ops
