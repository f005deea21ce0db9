// DequantizeLinear (ONNX), per tensor, from u8: y = (x - x_zero_point) * x_scale. Where a quantized graph ends.
// Inputs: x (u8), x_scale, x_zero_point (u8 scalar; absent = 0).
#include "ops/quant_common.h"

namespace pyrt::ops {
namespace {

class DequantizeLinear final : public Op {
 public:
  explicit DequantizeLinear(const NodeContext& ctx) : k_(ctx.kernels()) {
    ctx.expect_inputs(2, 3);
    qp_ = std::make_unique<PlanQParams>(ctx, 1, 2, "x");
    q_ = qp_->value();
  }
  bool plan_input(size_t i) const override { return qp_->plan_input(i); }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    q_ = qp_->at(*this, in);
    require_u8(*this, in[0], "x");
    n_ = size_t(in[0].numel());
    out[0] = {in[0].shape, spec::kF32};
  }
  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const uint8_t* x = static_cast<const uint8_t*>(in[0]);
    float* y = static_cast<float*>(out[0]);
    parallel(ctx, n_, 1 << 15, [&](size_t b, size_t e, int) { k_.dequantize_u8(x + b, e - b, q_, y + b); });
  }
  std::string kernel() const override { return std::string("dequantize-u8-") + k_.name; }

 private:
  const kernels::Table& k_;
  std::unique_ptr<PlanQParams> qp_;
  kernels::QParams q_{};
  size_t n_ = 0;
};

}  // namespace

std::unique_ptr<Op> make_dequantize_linear(const NodeContext& ctx) { return std::make_unique<DequantizeLinear>(ctx); }

}  // namespace pyrt::ops
