// Elementwise activations and unary math (Relu, Clip, LeakyRelu, Sigmoid, Tanh, Silu, HardSigmoid,
// HardSwish, Gelu, Exp, Sqrt, Neg, Abs, Erf, Reciprocal, Sin, Cos, Log, Floor, Ceil, Round, Sign, Softplus,
// Softsign, Elu, Selu, Celu, Mish, ThresholdedRelu, the inverse / hyperbolic trigonometry, Tan, Swish, Shrink,
// Identity/Dropout): one operator with the function as a
// parameter (ops/common.cc activation_for_op).
#include <algorithm>

#include "ops/common.h"

namespace pyrt::ops {
namespace {

class Unary final : public Op {
 public:
  explicit Unary(const NodeContext& ctx) : k_(ctx.kernels()) {
    const std::string& t = ctx.node().op_type;
    ctx.expect_inputs(1, (t == "Clip" || t == "Dropout") ? 3 : 1);
    a_ = activation_for_op(ctx);
    if (t == "Clip") {  // opset >= 11: min / max as optional inputs, known when the plan is made
      for (size_t i = 1; i <= 2; ++i) bound_[i - 1] = ctx.has_input(i);
    }
  }
  bool plan_input(size_t i) const override { return i >= 1 && bound_[i - 1]; }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    require_f32(*this, in[0], "input");
    for (size_t i = 1; i <= 2; ++i) {
      if (i >= in.size() || !bound_[i - 1]) continue;
      const std::vector<float> v = plan_floats(*this, in[i], i == 1 ? "min" : "max");
      if (v.size() != 1) fail("min and max must be scalars");
      (i == 1 ? a_.p0 : a_.p1) = v[0];
    }
    out[0] = in[0];
    for (size_t i = 1; i < out.size(); ++i) out[i] = {in[0].shape, spec::kBool};  // Dropout's mask
    n_ = size_t(in[0].numel());
  }
  int inplace_input() const override { return 0; }
  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const float* x = static_cast<const float*>(in[0]);
    float* y = static_cast<float*>(out[0]);
    parallel(ctx, n_, 1 << 14, [&](size_t b, size_t e, int) { k_.unary(a_, x + b, y + b, e - b); });
    for (size_t i = 1; i < out.size(); ++i) std::fill_n(static_cast<uint8_t*>(out[i]), n_, uint8_t(1));
  }
  std::string kernel() const override { return std::string("unary-") + k_.name; }

 private:
  bool bound_[2] = {false, false};  // Clip's min / max inputs
  const kernels::Table& k_;
  ActParams a_;
  size_t n_ = 0;
};

}  // namespace

std::unique_ptr<Op> make_unary(const NodeContext& ctx) { return std::make_unique<Unary>(ctx); }

}  // namespace pyrt::ops
