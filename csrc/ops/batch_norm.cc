// BatchNormalization (inference): y = (x - mean) / sqrt(var + eps) * scale + bias, folded at load into one
// multiply-add per channel. The exporter folds it into the preceding conv when it can; this is for the rest.
#include <cmath>

#include "ops/common.h"

namespace pyrt::ops {
namespace {

class BatchNorm final : public Op {
 public:
  explicit BatchNorm(const NodeContext& ctx) {
    ctx.expect_inputs(5, 5);
    const float eps = ctx.attr_float("epsilon", 1e-5f);
    const ConstTensor& s = ctx.require_const(1, "scale", spec::kF32);
    const ConstTensor& b = ctx.require_const(2, "bias");
    const ConstTensor& m = ctx.require_const(3, "mean");
    const ConstTensor& v = ctx.require_const(4, "var");
    c_ = s.desc.numel();
    for (const ConstTensor* t : {&b, &m, &v})
      if (t->desc.numel() != c_ || t->desc.dtype != spec::kF32) ctx.fail("scale, bias, mean and var must have C f32 values");
    mul_.resize(size_t(c_));
    add_.resize(size_t(c_));
    for (int64_t i = 0; i < c_; ++i) {
      mul_[size_t(i)] = s.f32()[i] / std::sqrt(v.f32()[i] + eps);
      add_[size_t(i)] = b.f32()[i] - m.f32()[i] * mul_[size_t(i)];
    }
  }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    require_f32(*this, in[0], "input");
    const Shape& x = in[0].shape;
    if (x.size() < 2 || x[1] != c_) fail("input " + shape_str(x) + " does not have " + std::to_string(c_) + " channels");
    n_ = size_t(x[0]);
    inner_ = size_t(numel(x) / std::max<int64_t>(x[0] * x[1], 1));
    out[0] = in[0];
  }
  int inplace_input() const override { return 0; }
  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const float* x = static_cast<const float*>(in[0]);
    float* y = static_cast<float*>(out[0]);
    parallel(ctx, n_ * size_t(c_), 4, [&](size_t b, size_t e, int) {
      for (size_t r = b; r < e; ++r) {
        const size_t c = r % size_t(c_);
        for (size_t i = 0; i < inner_; ++i) y[r * inner_ + i] = x[r * inner_ + i] * mul_[c] + add_[c];
      }
    });
  }
  std::string kernel() const override { return "batchnorm-ref"; }

 private:
  int64_t c_;
  std::vector<float> mul_, add_;
  size_t n_ = 0, inner_ = 0;
};

}  // namespace

std::unique_ptr<Op> make_batch_norm(const NodeContext& ctx) { return std::make_unique<BatchNorm>(ctx); }

}  // namespace pyrt::ops
