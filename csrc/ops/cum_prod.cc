// CumProd (ONNX 26): running products along an axis (input 1, known when the plan is made), optionally
// exclusive (each product leaves its own element out, the first is 1) and/or reverse. f32, f64 and the 32- and
// 64-bit integers; integer products wrap (computed unsigned: no signed overflow).
#include <type_traits>

#include "ops/typed.h"

namespace pyrt::ops {
namespace {

class CumProd final : public Op {
 public:
  explicit CumProd(const NodeContext& ctx) {
    ctx.expect_inputs(2, 2);
    axis_in_ = IntsInput(ctx, 1, "axis", "");
    exclusive_ = ctx.attr_int("exclusive", 0) != 0;
    reverse_ = ctx.attr_int("reverse", 0) != 0;
  }
  bool plan_input(size_t i) const override { return i == 1; }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    const TensorDesc& x = in[0];
    const uint8_t t = x.dtype;
    if (t != spec::kF32 && t != spec::kF64 && t != spec::kI32 && t != spec::kI64 && t != spec::kU32 &&
        t != spec::kU64)
      fail(std::string("input must be f32, f64 or a 32- / 64-bit integer, got ") + spec::dtype_name(t));
    const std::vector<int64_t>& a = axis_in_.at(*this, in);
    if (a.size() != 1) fail("axis must be a scalar");
    if (x.shape.empty()) fail("input must have rank >= 1");
    sp_ = split_at(x.shape, size_t(norm_axis(*this, a[0], x.shape.size())));
    dtype_ = t;
    out[0] = x;
  }
  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    visit_numeric(dtype_, [&](auto tag) {
      using T = decltype(tag);
      using A = std::conditional_t<std::is_integral_v<T>, std::make_unsigned_t<std::conditional_t<
                                       std::is_integral_v<T>, T, int>>, T>;
      const T* x = static_cast<const T*>(in[0]);
      T* y = static_cast<T*>(out[0]);
      const int64_t len = sp_.len, inner = sp_.inner;
      for (int64_t o = 0; o < sp_.outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
          A p = A(1);
          for (int64_t t = 0; t < len; ++t) {
            const int64_t k = reverse_ ? len - 1 - t : t, at = (o * len + k) * inner + i;
            if (exclusive_) y[at] = T(p), p = A(p * A(x[at]));
            else p = A(p * A(x[at])), y[at] = T(p);
          }
        }
    });
  }
  std::string kernel() const override { return "cumprod-ref"; }

 private:
  IntsInput axis_in_;
  AxisSplit sp_;
  bool exclusive_ = false, reverse_ = false;
  uint8_t dtype_ = spec::kF32;
};

}  // namespace

std::unique_ptr<Op> make_cum_prod(const NodeContext& ctx) { return std::make_unique<CumProd>(ctx); }

}  // namespace pyrt::ops
