// ScatterElements (ONNX): a copy of data with, for every element of `updates`, the element at the same index
// except along `axis`, where indices gives the position, replaced (reduction "none") or combined with it
// ("add", "mul", "max", "min"). Indices i64 or i32, negative ones count from the end; an index out of range is an
// error naming it. Any element type for "none"; f32, i32, i64 for the reductions.
#include <algorithm>
#include <cstring>

#include "ops/typed.h"

namespace pyrt::ops {
namespace {

class ScatterElements final : public Op {
 public:
  explicit ScatterElements(const NodeContext& ctx) {
    ctx.expect_inputs(3, 3);
    axis_ = ctx.attr_int("axis", 0);
    const std::string r = ctx.attr_string("reduction", "none");
    if (r != "none" && r != "add" && r != "mul" && r != "max" && r != "min")
      ctx.fail("reduction must be none, add, mul, max or min, got '" + r + "'");
    red_ = r;
  }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    ix_.plan(*this, in[0], in[1], axis_);
    if (in[2].dtype != in[0].dtype) fail("updates must have the data's element type");
    if (in[2].shape != in[1].shape)
      fail("indices " + shape_str(in[1].shape) + " and updates " + shape_str(in[2].shape) + " must have one shape");
    dtype_ = in[0].dtype;
    if (red_ != "none" && dtype_ != spec::kF32 && dtype_ != spec::kI32 && dtype_ != spec::kI64)
      fail(std::string("reduction '") + red_ + "' needs f32, i32 or i64 data, got " + spec::dtype_name(dtype_));
    n_ = in[0].numel();
    out[0] = in[0];
  }
  int inplace_input() const override { return 0; }
  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    if (out[0] != in[0]) std::memcpy(out[0], in[0], size_t(n_) * spec::dtype_size(dtype_));
    ix_.run(*this, in[1], [&](int64_t o, int64_t at) { combine(out[0], size_t(at), in[2], size_t(o)); });
  }
  std::string kernel() const override { return "scatter-ref"; }

 private:
  void combine(void* y, size_t at, const void* u, size_t from) const {
    if (red_ == "none") {
      const size_t e = spec::dtype_size(dtype_);
      std::memcpy(static_cast<uint8_t*>(y) + at * e, static_cast<const uint8_t*>(u) + from * e, e);
      return;
    }
    visit_numeric(dtype_, [&](auto tag) {
      using T = decltype(tag);
      T& a = static_cast<T*>(y)[at];
      const T b = static_cast<const T*>(u)[from];
      a = red_ == "add" ? T(a + b) : red_ == "mul" ? T(a * b) : red_ == "max" ? std::max(a, b) : std::min(a, b);
    });
  }

  int64_t axis_ = 0, n_ = 0;
  std::string red_;
  uint8_t dtype_ = spec::kF32;
  AxisIndices ix_;
};

}  // namespace

std::unique_ptr<Op> make_scatter_elements(const NodeContext& ctx) { return std::make_unique<ScatterElements>(ctx); }

}  // namespace pyrt::ops
