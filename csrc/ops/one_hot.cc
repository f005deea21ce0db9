// OneHot (ONNX): for indices of any integer (or float) type, a new dimension of size depth (a constant, or read when the plan is made) at
// `axis` holding values[1] at the index and values[0] elsewhere (values: [off, on], likewise, whose type the
// output takes). Negative indices count from the end; indices outside [-depth, depth) give an all-off row.
#include <cmath>
#include <cstring>

#include "ops/typed.h"

namespace pyrt::ops {
namespace {

class OneHot final : public Op {
 public:
  explicit OneHot(const NodeContext& ctx) {
    ctx.expect_inputs(3, 3);
    // depth and values: constants are read here; graph inputs when the plan is made (plan_input).
    depth_rt_ = !ctx.const_input(1);
    values_rt_ = !ctx.const_input(2);
    if (!depth_rt_) {
      const ConstTensor& depth = ctx.require_const(1, "depth");
      if (const char* e = set_depth(depth.desc, depth.get())) ctx.fail(e);
    }
    if (!values_rt_) {
      const ConstTensor& v = ctx.require_const(2, "values");
      if (const char* e = set_values(v.desc, v.get())) ctx.fail(e);
    }
    axis_ = ctx.attr_int("axis", -1);
  }
  bool plan_input(size_t i) const override { return (i == 1 && depth_rt_) || (i == 2 && values_rt_); }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    for (size_t i = 1; i <= 2; ++i) {
      if (!plan_input(i)) continue;
      if (!in[i].value)
        fail(std::string(i == 1 ? "depth" : "values") + " must be known when the plan is made: a constant, or "
             "computed only from input shapes and constants (here it depends on the data of a run)");
      if (const char* e = i == 1 ? set_depth(in[i], in[i].value) : set_values(in[i], in[i].value)) fail(e);
    }
    const Shape& ix = in[0].shape;
    const int64_t r = int64_t(ix.size()) + 1;
    if (axis_ < -r || axis_ >= r) fail("axis " + std::to_string(axis_) + " is out of range for the output rank");
    const size_t a = size_t(axis_ < 0 ? axis_ + r : axis_);
    Shape o = ix;
    o.insert(o.begin() + int64_t(a), depth_);
    outer_ = inner_ = 1;
    for (size_t i = 0; i < a; ++i) outer_ *= ix[i];
    for (size_t i = a; i < ix.size(); ++i) inner_ *= ix[i];
    itype_ = in[0].dtype;
    if (itype_ == spec::kBool || itype_ == spec::kF16 || itype_ == spec::kBF16)
      fail(std::string("indices must be numbers, got ") + spec::dtype_name(itype_));
    out[0] = {o, vtype_};
  }
  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    uint8_t* y = static_cast<uint8_t*>(out[0]);
    const size_t e = esize_;
    const int64_t total = outer_ * depth_ * inner_;
    for (int64_t i = 0; i < total; ++i) std::memcpy(y + size_t(i) * e, values_.data(), e);  // all off
    visit_numeric(itype_, [&](auto tag) {
      using T = decltype(tag);
      const T* ix = static_cast<const T*>(in[0]);
      for (int64_t o = 0; o < outer_; ++o)
        for (int64_t i = 0; i < inner_; ++i) {
          const double f = double(ix[o * inner_ + i]);
          if (!std::isfinite(f) || f < -double(depth_) || f >= double(depth_)) continue;
          int64_t k = int64_t(f);
          if (k < 0) k += depth_;
          std::memcpy(y + size_t((o * depth_ + k) * inner_ + i) * e, values_.data() + e, e);
        }
    });
  }
  std::string kernel() const override { return "onehot-ref"; }

 private:
  // Reads depth / values (an error message, or null).
  const char* set_depth(const TensorDesc& d, const void* p) {
    if (d.numel() != 1) return "depth must be a single value";
    double v = 0;
    visit_numeric(d.dtype, [&](auto tag) {
      using T = decltype(tag);
      v = double(static_cast<const T*>(p)[0]);
    });
    if (!(v >= 1 && v <= double(int64_t(1) << 31))) return "depth must be in [1, 2^31]";
    depth_ = int64_t(v);
    return nullptr;
  }
  const char* set_values(const TensorDesc& d, const void* p) {
    if (d.numel() != 2) return "values must be [off, on]";
    vtype_ = d.dtype;
    esize_ = spec::dtype_size(vtype_);
    values_.assign(static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + 2 * esize_);
    return nullptr;
  }
  bool depth_rt_ = false, values_rt_ = false;
  int64_t depth_ = 1, axis_ = -1, outer_ = 1, inner_ = 1;
  uint8_t vtype_ = spec::kF32, itype_ = spec::kI64;
  size_t esize_ = 4;
  std::vector<uint8_t> values_;
};

}  // namespace

std::unique_ptr<Op> make_one_hot(const NodeContext& ctx) { return std::make_unique<OneHot>(ctx); }

}  // namespace pyrt::ops
