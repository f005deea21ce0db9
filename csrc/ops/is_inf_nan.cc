// IsInf (attributes detect_negative / detect_positive) and IsNaN on the float types: bool outputs.
#include <cmath>
#include <type_traits>

#include "ops/typed.h"

namespace pyrt::ops {
namespace {

class IsInfNan final : public Op {
 public:
  explicit IsInfNan(const NodeContext& ctx) : nan_(ctx.node().op_type == "IsNaN") {
    ctx.expect_inputs(1, 1);
    if (!nan_) neg_ = ctx.attr_int("detect_negative", 1) != 0, pos_ = ctx.attr_int("detect_positive", 1) != 0;
  }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    const uint8_t t = in[0].dtype;
    if (t != spec::kF32 && t != spec::kF64 && t != spec::kF16 && t != spec::kBF16)
      fail(std::string("input must be a float type, got ") + spec::dtype_name(t));
    dtype_ = t, n_ = in[0].numel();
    out[0] = {in[0].shape, spec::kBool};
  }
  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    uint8_t* y = static_cast<uint8_t*>(out[0]);
    visit_dtype(dtype_, [&](auto tag) {
      using T = decltype(tag);
      const T* x = static_cast<const T*>(in[0]);
      for (int64_t i = 0; i < n_; ++i) {
        double v;
        if constexpr (std::is_floating_point_v<T>) v = double(x[i]);
        else if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BHalf>) v = double(to_float(x[i]));
        else v = 0;  // not reached: infer() admits floats only
        y[i] = nan_ ? std::isnan(v) : std::isinf(v) && (v > 0 ? pos_ : neg_);
      }
    });
  }
  std::string kernel() const override { return "isinfnan-ref"; }

 private:
  bool nan_ = false, neg_ = true, pos_ = true;
  uint8_t dtype_ = spec::kF32;
  int64_t n_ = 0;
};

}  // namespace

std::unique_ptr<Op> make_is_inf_nan(const NodeContext& ctx) { return std::make_unique<IsInfNan>(ctx); }

}  // namespace pyrt::ops
