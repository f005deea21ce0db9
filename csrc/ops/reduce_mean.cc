// ReduceMean over a set of axes (attribute or constant input), keepdims.
#include "ops/common.h"

namespace pyrt::ops {
namespace {

class ReduceMean final : public Op {
 public:
  explicit ReduceMean(const NodeContext& ctx) {
    ctx.expect_inputs(1, 2);
    if (ctx.has_input(1)) {
      const ConstTensor& a = ctx.require_const(1, "axes");
      axes_.assign(a.i64(), a.i64() + a.desc.numel());
    } else {
      axes_ = ctx.attr_ints("axes");
    }
    keep_ = ctx.attr_int("keepdims", 1) != 0;
  }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    require_f32(*this, in[0], "input");
    const Shape& x = in[0].shape;
    red_.assign(x.size(), axes_.empty());
    for (int64_t a : axes_) red_[size_t(norm_axis(*this, a, x.size()))] = true;
    Shape o;
    count_ = 1;
    for (size_t i = 0; i < x.size(); ++i) {
      if (red_[i]) count_ *= x[i];
      if (!red_[i]) o.push_back(x[i]);
      else if (keep_) o.push_back(1);
    }
    xs_ = x;
    out[0] = {o, spec::kF32};
    nout_ = size_t(numel(o));
  }
  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const float* x = static_cast<const float*>(in[0]);
    float* y = static_cast<float*>(out[0]);
    std::fill_n(y, nout_, 0.f);
    // walk the input once, accumulating each element into its output position
    const size_t n = size_t(numel(xs_)), r = xs_.size();
    for (size_t e = 0; e < n; ++e) {
      size_t rem = e, oi = 0, mul = 1;
      for (size_t d = r; d-- > 0;) {
        const size_t i = rem % size_t(xs_[d]);
        rem /= size_t(xs_[d]);
        if (!red_[d]) {
          oi += i * mul;
          mul *= size_t(xs_[d]);
        }
      }
      y[oi] += x[e];
    }
    const float inv = count_ ? 1.f / float(count_) : 0.f;
    for (size_t i = 0; i < nout_; ++i) y[i] *= inv;
  }
  std::string kernel() const override { return "reduce-ref"; }

 private:
  std::vector<int64_t> axes_;
  bool keep_;
  std::vector<bool> red_;
  Shape xs_;
  int64_t count_ = 1;
  size_t nout_ = 0;
};

}  // namespace

std::unique_ptr<Op> make_reduce_mean(const NodeContext& ctx) { return std::make_unique<ReduceMean>(ctx); }

}  // namespace pyrt::ops
