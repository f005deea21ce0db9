// ArgMax / ArgMin (ONNX): the index of the largest / smallest value along `axis` (keepdims,
// select_last_index), as int64. f32, i32 and i64 inputs; a NaN counts as the extreme (numpy's argmax).
#include <cmath>
#include <type_traits>

#include "ops/typed.h"

namespace pyrt::ops {
namespace {

class ArgMax final : public Op {
 public:
  explicit ArgMax(const NodeContext& ctx) : max_(ctx.node().op_type == "ArgMax") {
    ctx.expect_inputs(1, 1);
    axis_ = ctx.attr_int("axis", 0);
    keep_ = ctx.attr_int("keepdims", 1) != 0;
    last_ = ctx.attr_int("select_last_index", 0) != 0;
  }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    const TensorDesc& x = in[0];
    if (x.dtype != spec::kF32 && x.dtype != spec::kI32 && x.dtype != spec::kI64)
      fail(std::string("input must be f32, i32 or i64, got ") + spec::dtype_name(x.dtype));
    const size_t a = size_t(norm_axis(*this, axis_, x.shape.size()));
    if (x.shape[a] == 0) fail("the axis has no elements");
    sp_ = split_at(x.shape, a);
    Shape o = x.shape;
    if (keep_) o[a] = 1;
    else o.erase(o.begin() + int64_t(a));
    dtype_ = x.dtype;
    out[0] = {o, spec::kI64};
  }
  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    int64_t* y = static_cast<int64_t*>(out[0]);
    visit_numeric(dtype_, [&](auto tag) {
      using T = decltype(tag);
      const T* x = static_cast<const T*>(in[0]);
      const int64_t len = sp_.len, inner = sp_.inner;
      for (int64_t o = 0; o < sp_.outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
          const T* p = x + o * len * inner + i;
          int64_t best = 0;
          for (int64_t k = 1; k < len; ++k) {
            const T v = p[k * inner], b = p[best * inner];
            if constexpr (std::is_floating_point_v<T>) {
              if (std::isnan(b)) break;  // the first NaN wins
              if (std::isnan(v)) { best = k; break; }
            }
            if (max_ ? (v > b || (last_ && v == b)) : (v < b || (last_ && v == b))) best = k;
          }
          y[o * inner + i] = best;
        }
    });
  }
  std::string kernel() const override { return "argmax-ref"; }

 private:
  bool max_, keep_ = true, last_ = false;
  int64_t axis_ = 0;
  AxisSplit sp_;
  uint8_t dtype_ = spec::kF32;
};

}  // namespace

std::unique_ptr<Op> make_arg_max(const NodeContext& ctx) { return std::make_unique<ArgMax>(ctx); }

}  // namespace pyrt::ops
