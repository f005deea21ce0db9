// ScatterND (ONNX): a copy of data where, for every row of indices [..., q], the slice data[i0, ..., i(q-1)]
// is replaced by (reduction "none") or combined with ("add", "mul", "max", "min") the matching slice of
// updates, whose shape must be indices.shape[:-1] + data.shape[q:]. Indices i64 (the only type ONNX allows);
// negative ones count from the end, one out of range is an error naming it. Any element type for "none"
// (slices copied whole); f32, i32, i64 for the reductions. Rows are applied in order, so repeated indices
// with a reduction accumulate (and with "none" the last one wins, where ONNX leaves the result undefined).
#include <algorithm>
#include <cstring>

#include "ops/typed.h"

namespace pyrt::ops {
namespace {

class ScatterND final : public Op {
 public:
  explicit ScatterND(const NodeContext& ctx) {
    ctx.expect_inputs(3, 3);
    red_ = ctx.attr_string("reduction", "none");
    if (red_ != "none" && red_ != "add" && red_ != "mul" && red_ != "max" && red_ != "min")
      ctx.fail("reduction must be none, add, mul, max or min, got '" + red_ + "'");
  }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    const Shape &d = in[0].shape, &ix = in[1].shape, &u = in[2].shape;
    if (in[1].dtype != spec::kI64) fail(std::string("indices must be i64, got ") + spec::dtype_name(in[1].dtype));
    if (in[2].dtype != in[0].dtype)
      fail(std::string("updates must have the data's element type (") + spec::dtype_name(in[0].dtype) + "), got " +
           spec::dtype_name(in[2].dtype));
    if (d.empty() || ix.empty()) fail("data and indices must have rank >= 1");
    q_ = ix.back();
    if (q_ < 1 || q_ > int64_t(d.size()))
      fail("the indices' last dimension (" + std::to_string(q_) + ") must be in [1, data rank " +
           std::to_string(d.size()) + "]");
    Shape want(ix.begin(), ix.end() - 1);
    want.insert(want.end(), d.begin() + q_, d.end());
    if (u != want)
      fail("updates must have shape " + shape_str(want) + " (indices " + shape_str(ix) + ", data " + shape_str(d) +
           "), got " + shape_str(u));
    dtype_ = in[0].dtype;
    if (red_ != "none" && dtype_ != spec::kF32 && dtype_ != spec::kI32 && dtype_ != spec::kI64)
      fail("reduction '" + red_ + "' needs f32, i32 or i64 data, got " + spec::dtype_name(dtype_));
    ds_ = d;
    slice_ = 1;
    for (size_t i = size_t(q_); i < d.size(); ++i) slice_ *= d[i];
    rows_ = numel(ix) / q_;
    n_ = numel(d);
    out[0] = in[0];
  }
  int inplace_input() const override { return 0; }
  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const size_t e = spec::dtype_size(dtype_);
    if (out[0] != in[0]) std::memcpy(out[0], in[0], size_t(n_) * e);
    const int64_t* ix = static_cast<const int64_t*>(in[1]);
    uint8_t* y = static_cast<uint8_t*>(out[0]);
    const uint8_t* u = static_cast<const uint8_t*>(in[2]);
    for (int64_t r = 0; r < rows_; ++r) {
      int64_t at = 0;
      for (int64_t j = 0; j < q_; ++j) {
        const int64_t len = ds_[size_t(j)];
        int64_t k = ix[r * q_ + j];
        if (k < -len || k >= len)
          fail("index " + std::to_string(k) + " is out of range for dimension " + std::to_string(j) + " of size " +
               std::to_string(len) + " (indices row " + std::to_string(r) + ")");
        at = at * len + (k < 0 ? k + len : k);
      }
      uint8_t* dst = y + size_t(at * slice_) * e;
      const uint8_t* src = u + size_t(r * slice_) * e;
      if (red_ == "none") {
        std::memcpy(dst, src, size_t(slice_) * e);
        continue;
      }
      visit_numeric(dtype_, [&](auto tag) {
        using T = decltype(tag);
        T* a = reinterpret_cast<T*>(dst);
        const T* b = reinterpret_cast<const T*>(src);
        if (red_ == "add") for (int64_t i = 0; i < slice_; ++i) a[i] = T(a[i] + b[i]);
        else if (red_ == "mul") for (int64_t i = 0; i < slice_; ++i) a[i] = T(a[i] * b[i]);
        else if (red_ == "max") for (int64_t i = 0; i < slice_; ++i) a[i] = std::max(a[i], b[i]);
        else for (int64_t i = 0; i < slice_; ++i) a[i] = std::min(a[i], b[i]);
      });
    }
  }
  std::string kernel() const override { return "scatter-nd-ref"; }

 private:
  std::string red_;
  uint8_t dtype_ = spec::kF32;
  int64_t q_ = 1, slice_ = 1, rows_ = 0, n_ = 0;
  Shape ds_;
};

}  // namespace

std::unique_ptr<Op> make_scatter_nd(const NodeContext& ctx) { return std::make_unique<ScatterND>(ctx); }

}  // namespace pyrt::ops
