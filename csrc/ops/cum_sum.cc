// CumSum (ONNX): running sums along an axis (input 1: a constant, or read when the plan is made), optionally exclusive (each sum leaves its
// own element out) and/or reverse. f32 (summed in order, in f32, as ONNX Runtime), f64, i32 and i64.
#include "ops/typed.h"

namespace pyrt::ops {
namespace {

class CumSum final : public Op {
 public:
  explicit CumSum(const NodeContext& ctx) {
    ctx.expect_inputs(2, 2);
    axis_in_ = IntsInput(ctx, 1, "axis", "");
    if (!axis_in_.computed()) {
      if (axis_in_.value().size() != 1) ctx.fail("axis must be a scalar");
      axis_ = axis_in_.value()[0];
    }
    exclusive_ = ctx.attr_int("exclusive", 0) != 0;
    reverse_ = ctx.attr_int("reverse", 0) != 0;
  }
  // A graph-input axis is read when the plan is made.
  bool plan_input(size_t i) const override { return i == 1; }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    if (axis_in_.computed()) {
      const std::vector<int64_t>& a = axis_in_.at(*this, in);
      if (a.size() != 1) fail("axis must be a scalar");
      axis_ = a[0];
    }
    const TensorDesc& x = in[0];
    if (x.dtype != spec::kF32 && x.dtype != spec::kF64 && x.dtype != spec::kI32 && x.dtype != spec::kI64)
      fail(std::string("input must be f32, f64, i32 or i64, got ") + spec::dtype_name(x.dtype));
    const size_t a = size_t(norm_axis(*this, axis_, x.shape.size()));
    sp_ = split_at(x.shape, a);
    dtype_ = x.dtype;
    out[0] = x;
  }
  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    visit_numeric(dtype_, [&](auto tag) {
      using T = decltype(tag);
      const T* x = static_cast<const T*>(in[0]);
      T* y = static_cast<T*>(out[0]);
      const int64_t len = sp_.len, inner = sp_.inner;
      for (int64_t o = 0; o < sp_.outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
          T s = T(0);
          for (int64_t t = 0; t < len; ++t) {
            const int64_t k = reverse_ ? len - 1 - t : t, at = (o * len + k) * inner + i;
            if (exclusive_) y[at] = s, s += x[at];
            else s += x[at], y[at] = s;
          }
        }
    });
  }
  std::string kernel() const override { return "cumsum-ref"; }

 private:
  IntsInput axis_in_;
  int64_t axis_ = 0;
  AxisSplit sp_;
  bool exclusive_ = false, reverse_ = false;
  uint8_t dtype_ = spec::kF32;
};

}  // namespace

std::unique_ptr<Op> make_cum_sum(const NodeContext& ctx) { return std::make_unique<CumSum>(ctx); }

}  // namespace pyrt::ops
