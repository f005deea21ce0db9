// Slice with starts/ends/axes/steps (constant inputs, opset >= 10, or attributes), negative steps included.
#include <algorithm>
#include <climits>
#include <cstring>

#include "ops/common.h"

namespace pyrt::ops {
namespace {

class Slice final : public Op {
 public:
  explicit Slice(const NodeContext& ctx) {
    ctx.expect_inputs(1, 5);
    args_[0] = IntsInput(ctx, 1, "starts", "starts");
    args_[1] = IntsInput(ctx, 2, "ends", "ends");
    args_[2] = IntsInput(ctx, 3, "axes", "axes");
    args_[3] = IntsInput(ctx, 4, "steps", "steps");
  }
  bool plan_input(size_t i) const override { return i >= 1; }
  bool takes_strings() const override { return true; }  // moves elements by bytes
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    starts_ = args_[0].at(*this, in), ends_ = args_[1].at(*this, in);
    axes_ = args_[2].at(*this, in), steps_ = args_[3].at(*this, in);
    if (starts_.size() != ends_.size() || (!axes_.empty() && axes_.size() != starts_.size()) ||
        (!steps_.empty() && steps_.size() != starts_.size()))
      fail("starts, ends, axes and steps must have the same length");
    const Shape& x = in[0].shape;
    const size_t r = x.size();
    start_.assign(r, 0), step_.assign(r, 1);
    Shape o = x;
    for (size_t k = 0; k < starts_.size(); ++k) {
      const int64_t a = norm_axis(*this, axes_.empty() ? int64_t(k) : axes_[k], r);
      const int64_t step = steps_.empty() ? 1 : steps_[k];
      if (step == 0) fail("step 0");
      const int64_t n = x[size_t(a)];
      int64_t s = starts_[k], e = ends_[k];
      if (s < 0) s += n;
      if (e < 0) e += n;
      if (n == 0) {
        s = e = 0;
      } else if (step > 0) {
        s = std::clamp<int64_t>(s, 0, n);
        e = std::clamp<int64_t>(e, 0, n);
      } else {
        s = std::clamp<int64_t>(s, 0, n - 1);
        e = std::clamp<int64_t>(e, -1, n - 1);
      }
      const int64_t len = step > 0 ? std::max<int64_t>(0, (e - s + step - 1) / step)
                                   : std::max<int64_t>(0, (s - e + (-step) - 1) / (-step));
      start_[size_t(a)] = s, step_[size_t(a)] = step, o[size_t(a)] = len;
    }
    xs_ = x, os_ = o;
    xstr_.assign(r, 1);
    for (size_t i = r; i-- > 1;) xstr_[i - 1] = xstr_[i] * x[i];
    esize_ = spec::dtype_size(in[0].dtype);
    out[0] = {o, in[0].dtype};
  }
  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const uint8_t* x = static_cast<const uint8_t*>(in[0]);
    uint8_t* y = static_cast<uint8_t*>(out[0]);
    const size_t r = os_.size(), n = size_t(numel(os_));
    const std::vector<int64_t>& xstr = xstr_;
    for (size_t e = 0; e < n; ++e) {
      size_t rem = e;
      int64_t off = 0;
      for (size_t d = r; d-- > 0;) {
        const int64_t i = int64_t(rem % size_t(os_[d]));
        rem /= size_t(os_[d]);
        off += (start_[d] + i * step_[d]) * xstr[d];
      }
      std::memcpy(y + e * esize_, x + size_t(off) * esize_, esize_);
    }
  }
  std::string kernel() const override { return "slice-ref"; }

 private:
  std::vector<int64_t> starts_, ends_, axes_, steps_, start_, step_;
  Shape xs_, os_;
  std::vector<int64_t> xstr_;
  size_t esize_ = 4;
  IntsInput args_[4];
};

}  // namespace

std::unique_ptr<Op> make_slice(const NodeContext& ctx) { return std::make_unique<Slice>(ctx); }

}  // namespace pyrt::ops
