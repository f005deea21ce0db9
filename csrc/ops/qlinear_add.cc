// QLinearAdd (ONNX Runtime's com.microsoft op): u8 A + u8 B -> u8 C, each with its own (scale, zero point);
// fused relu / relu6 / clip as the clamp. Same shapes, or one side a single value (broadcast).
// Inputs: A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point.
#include "ops/quant_common.h"

namespace pyrt::ops {
namespace {

class QLinearAdd final : public Op {
 public:
  explicit QLinearAdd(const NodeContext& ctx) : k_(ctx.kernels()) {
    ctx.expect_inputs(7, 8);
    const kernels::QParams a = qparams(ctx, 1, 2, "A"), b = qparams(ctx, 4, 5, "B"), c = qparams(ctx, 6, 7, "C");
    p_.za = a.zp, p_.zb = b.zp;
    p_.ma = float(double(a.scale) / c.scale), p_.mb = float(double(b.scale) / c.scale);
    p_.rq = requant_clamp(ctx, c);
  }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    require_u8(*this, in[0], "A");
    require_u8(*this, in[3], "B");
    const int64_t na = in[0].numel(), nb = in[3].numel();
    if (in[0].shape != in[3].shape && na != 1 && nb != 1)
      fail("A " + shape_str(in[0].shape) + " and B " + shape_str(in[3].shape) +
           " must have the same shape or one of them a single value");
    as_ = na == 1 && nb != 1 ? 0 : 1, bs_ = nb == 1 && na != 1 ? 0 : 1;
    const Shape& s = as_ ? in[0].shape : in[3].shape;
    n_ = size_t(as_ ? na : nb);
    out[0] = {s, spec::kU8};
  }
  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const uint8_t* a = static_cast<const uint8_t*>(in[0]);
    const uint8_t* b = static_cast<const uint8_t*>(in[3]);
    uint8_t* y = static_cast<uint8_t*>(out[0]);
    parallel(ctx, n_, 1 << 15, [&](size_t s, size_t e, int) {
      k_.qadd_u8(a + s * as_, as_, b + s * bs_, bs_, p_, y + s, e - s);
    });
  }
  int inplace_input() const override { return as_ ? 0 : 3; }
  std::string kernel() const override { return std::string("qadd-u8-") + k_.name; }

 private:
  const kernels::Table& k_;
  kernels::QAddParams p_{};
  size_t as_ = 1, bs_ = 1, n_ = 0;
};

}  // namespace

std::unique_ptr<Op> make_qlinear_add(const NodeContext& ctx) { return std::make_unique<QLinearAdd>(ctx); }

}  // namespace pyrt::ops
