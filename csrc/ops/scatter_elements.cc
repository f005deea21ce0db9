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
    const Shape &d = in[0].shape, &ix = in[1].shape, &up = in[2].shape;
    if (in[1].dtype != spec::kI64 && in[1].dtype != spec::kI32)
      fail(std::string("indices must be i64 or i32, got ") + spec::dtype_name(in[1].dtype));
    if (in[2].dtype != in[0].dtype) fail("updates must have the data's element type");
    if (ix != up) fail("indices " + shape_str(ix) + " and updates " + shape_str(up) + " must have one shape");
    if (ix.size() != d.size() || d.empty()) fail("indices must have the data's rank (>= 1)");
    a_ = size_t(norm_axis(*this, axis_, d.size()));
    for (size_t i = 0; i < d.size(); ++i)
      if (i != a_ && ix[i] > d[i]) fail("indices " + shape_str(ix) + " are larger than data " + shape_str(d) + " off the axis");
    dtype_ = in[0].dtype;
    if (red_ != "none" && dtype_ != spec::kF32 && dtype_ != spec::kI32 && dtype_ != spec::kI64)
      fail(std::string("reduction '") + red_ + "' needs f32, i32 or i64 data, got " + spec::dtype_name(dtype_));
    ds_ = d, is_ = ix, i64_ = in[1].dtype == spec::kI64;
    out[0] = in[0];
  }
  int inplace_input() const override { return 0; }
  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const size_t e = spec::dtype_size(dtype_), r = ds_.size();
    if (out[0] != in[0]) std::memcpy(out[0], in[0], size_t(numel(ds_)) * e);
    std::vector<int64_t> dstride(r, 1), idx(r, 0);
    for (size_t i = r - 1; i-- > 0;) dstride[i] = dstride[i + 1] * ds_[i + 1];
    const int64_t total = numel(is_), len = ds_[a_];
    for (int64_t o = 0; o < total; ++o) {
      int64_t k = i64_ ? static_cast<const int64_t*>(in[1])[o] : static_cast<const int32_t*>(in[1])[o];
      if (k < -len || k >= len)
        fail("index " + std::to_string(k) + " is out of range for axis " + std::to_string(a_) + " of size " +
             std::to_string(len));
      if (k < 0) k += len;
      int64_t dst = 0;
      for (size_t d = 0; d < r; ++d) dst += (d == a_ ? k : idx[d]) * dstride[d];
      combine(out[0], size_t(dst), in[2], size_t(o));
      for (size_t d = r; d-- > 0;) {
        if (++idx[d] < is_[d]) break;
        idx[d] = 0;
      }
    }
  }
  std::string kernel() const override { return "scatter-ref"; }

 private:
  void combine(void* y, size_t at, const void* u, size_t from) const {
    if (red_ == "none") {
      const size_t e = spec::dtype_size(dtype_);
      std::memcpy(static_cast<uint8_t*>(y) + at * e, static_cast<const uint8_t*>(u) + from * e, e);
      return;
    }
    visit_dtype(dtype_, [&](auto tag) {
      using T = decltype(tag);
      T& a = static_cast<T*>(y)[at];
      const T b = static_cast<const T*>(u)[from];
      a = red_ == "add" ? T(a + b) : red_ == "mul" ? T(a * b) : red_ == "max" ? std::max(a, b) : std::min(a, b);
    });
  }

  int64_t axis_ = 0;
  size_t a_ = 0;
  std::string red_;
  uint8_t dtype_ = spec::kF32;
  Shape ds_, is_;
  bool i64_ = true;
};

}  // namespace

std::unique_ptr<Op> make_scatter_elements(const NodeContext& ctx) { return std::make_unique<ScatterElements>(ctx); }

}  // namespace pyrt::ops
