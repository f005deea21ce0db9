// Pad: constant, reflect or edge padding of any rank; pads are [begin_0, begin_1, ..., end_0, end_1, ...]
// (attribute or constant input, negative values crop).
#include <algorithm>

#include "ops/common.h"

namespace pyrt::ops {
namespace {

class Pad final : public Op {
 public:
  explicit Pad(const NodeContext& ctx) {
    ctx.expect_inputs(1, 4);
    mode_ = ctx.attr_string("mode", "constant");
    if (mode_ != "constant" && mode_ != "reflect" && mode_ != "edge") ctx.fail("unsupported mode '" + mode_ + "'");
    pads_in_ = IntsInput(ctx, 1, "pads", "pads");
    axes_in_ = IntsInput(ctx, 3, "axes", "");
    value_ = ctx.attr_float("value", 0.f);
    has_value_ = ctx.has_input(2);
  }
  bool plan_input(size_t i) const override { return i == 1 || (i == 2 && has_value_) || i == 3; }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    require_f32(*this, in[0], "input");
    const Shape& x = in[0].shape;
    const size_t r = x.size();
    if (has_value_) {
      const std::vector<float> v = plan_floats(*this, in[2], "constant_value");
      if (v.empty()) fail("constant_value is empty");
      value_ = v[0];
    }
    const std::vector<int64_t>& given = pads_in_.at(*this, in);
    if (axes_in_.present()) {  // pads for these axes only: [begins..., ends...]
      const std::vector<int64_t>& axes = axes_in_.at(*this, in);
      if (given.size() != 2 * axes.size())
        fail("pads has " + std::to_string(given.size()) + " values for " + std::to_string(axes.size()) + " axes");
      pads_.assign(2 * r, 0);
      for (size_t k = 0; k < axes.size(); ++k) {
        const size_t a = size_t(norm_axis(*this, axes[k], r));
        pads_[a] = given[k], pads_[a + r] = given[k + axes.size()];
      }
    } else {
      pads_ = given;
    }
    if (pads_.size() != 2 * r) fail("pads has " + std::to_string(pads_.size()) + " values for rank " + std::to_string(r));
    for (int64_t p : pads_)
      if (p > kMaxWindow || p < -kMaxWindow) fail("pad " + std::to_string(p) + " is out of range");
    Shape o(r);
    for (size_t i = 0; i < r; ++i) {
      o[i] = x[i] + pads_[i] + pads_[i + r];
      if (o[i] < 0) fail("pads make a negative dimension");
      if (mode_ == "reflect" && (pads_[i] >= x[i] || pads_[i + r] >= x[i]) && (pads_[i] > 0 || pads_[i + r] > 0))
        fail("reflect padding must be smaller than the dimension it pads");
      if (mode_ == "edge" && x[i] == 0 && o[i] > 0) fail("edge padding of an empty dimension");
    }
    xs_ = x, os_ = o;
    xstr_.assign(r, 1);
    for (size_t i = r; i-- > 1;) xstr_[i - 1] = xstr_[i] * x[i];
    out[0] = {o, spec::kF32};
  }
  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const float* x = static_cast<const float*>(in[0]);
    float* y = static_cast<float*>(out[0]);
    const size_t r = os_.size();
    if (r == 0) return void(y[0] = x[0]);
    const size_t inner = size_t(os_[r - 1]), rows = inner ? size_t(numel(os_)) / inner : 0;
    const std::vector<int64_t>& xstr = xstr_;
    parallel(ctx, rows, 16, [&](size_t b, size_t e, int) {
      for (size_t row = b; row < e; ++row) {
        size_t rem = row;
        int64_t off = 0;
        bool outside = false;
        for (size_t d = r - 1; d-- > 0;) {
          const int64_t o = int64_t(rem % size_t(os_[d]));
          rem /= size_t(os_[d]);
          int64_t i;
          if (!src(d, o, &i)) outside = true;
          off += i * xstr[d];
        }
        float* yr = y + row * inner;
        for (size_t k = 0; k < inner; ++k) {
          int64_t i;
          yr[k] = (outside || !src(r - 1, int64_t(k), &i)) ? value_ : x[off + i];
        }
      }
    });
  }
  std::string kernel() const override { return "pad-ref"; }

 private:
  // Input index for output index o along dim d; false when it falls in constant padding.
  bool src(size_t d, int64_t o, int64_t* i) const {
    const int64_t n = xs_[d];
    int64_t v = o - pads_[d];
    if (v >= 0 && v < n) return *i = v, true;
    if (mode_ == "constant") return *i = 0, false;
    if (mode_ == "edge") return *i = std::clamp<int64_t>(v, 0, n - 1), true;
    if (n == 1) return *i = 0, true;
    const int64_t period = 2 * (n - 1);  // reflect without repeating the edge
    v = ((v % period) + period) % period;
    *i = v < n ? v : period - v;
    return true;
  }

  std::string mode_;
  IntsInput pads_in_, axes_in_;
  bool has_value_ = false;
  std::vector<int64_t> pads_;
  float value_ = 0.f;
  Shape xs_, os_;
  std::vector<int64_t> xstr_;
};

}  // namespace

std::unique_ptr<Op> make_pad(const NodeContext& ctx) { return std::make_unique<Pad>(ctx); }

}  // namespace pyrt::ops
