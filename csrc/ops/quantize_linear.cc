// QuantizeLinear (ONNX), per tensor, to u8: y = saturate(nearbyint(x / y_scale) + y_zero_point).
// Inputs: x (f32), y_scale, y_zero_point (u8 scalar; absent = 0). Where a quantized graph starts.
#include "ops/quant_common.h"

namespace pyrt::ops {
namespace {

class QuantizeLinear final : public Op {
 public:
  explicit QuantizeLinear(const NodeContext& ctx) : k_(ctx.kernels()) {
    ctx.expect_inputs(2, 3);
    qp_ = std::make_unique<PlanQParams>(ctx, 1, 2, "y");
    q_ = qp_->value();
  }
  bool plan_input(size_t i) const override { return qp_->plan_input(i); }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    q_ = qp_->at(*this, in);
    require_f32(*this, in[0], "x");
    n_ = size_t(in[0].numel());
    out[0] = {in[0].shape, spec::kU8};
  }
  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const float* x = static_cast<const float*>(in[0]);
    uint8_t* y = static_cast<uint8_t*>(out[0]);
    parallel(ctx, n_, 1 << 15, [&](size_t b, size_t e, int) { k_.quantize_u8(x + b, e - b, q_, y + b); });
  }
  std::string kernel() const override { return std::string("quantize-u8-") + k_.name; }

 private:
  const kernels::Table& k_;
  std::unique_ptr<PlanQParams> qp_;
  kernels::QParams q_{};
  size_t n_ = 0;
};

}  // namespace

std::unique_ptr<Op> make_quantize_linear(const NodeContext& ctx) { return std::make_unique<QuantizeLinear>(ctx); }

}  // namespace pyrt::ops
