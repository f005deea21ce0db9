// Softmax and LogSoftmax along one axis (opset >= 13 semantics), max-subtracted for stability.
#include <algorithm>
#include <cmath>

#include "ops/common.h"

namespace pyrt::ops {
namespace {

class Softmax final : public Op {
 public:
  explicit Softmax(const NodeContext& ctx) : log_(ctx.node().op_type == "LogSoftmax") {
    ctx.expect_inputs(1, 1);
    axis_ = ctx.attr_int("axis", -1);
    // Opset < 13 semantics (set by the ONNX importer): normalize over all dims from `axis` on.
    coerce_ = ctx.attr_int("coerce_2d", 0) != 0;
  }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    if (in[0].dtype != spec::kF32 && in[0].dtype != spec::kF64)
      fail(std::string("input must be f32 or f64, got ") + spec::dtype_name(in[0].dtype));
    f64_ = in[0].dtype == spec::kF64;
    const Shape& x = in[0].shape;
    outer_ = inner_ = n_ = 1;
    out[0] = in[0];
    if (x.empty()) return;  // a scalar: softmax 1, log-softmax 0
    const int64_t a = norm_axis(*this, axis_, x.size());
    for (int64_t i = 0; i < a; ++i) outer_ *= size_t(x[size_t(i)]);
    n_ = x.empty() ? 1 : size_t(x[size_t(a)]);
    for (size_t i = size_t(a) + 1; i < x.size(); ++i) inner_ *= size_t(x[i]);
    if (coerce_) n_ *= inner_, inner_ = 1;
  }
  int inplace_input() const override { return 0; }
  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    if (f64_) return run_typed(ctx, static_cast<const double*>(in[0]), static_cast<double*>(out[0]));
    run_typed(ctx, static_cast<const float*>(in[0]), static_cast<float*>(out[0]));
  }
  std::string kernel() const override { return "softmax-ref"; }

 private:
  template <typename T>  // f32 sums in double; f64 throughout
  void run_typed(const RunContext& ctx, const T* x, T* y) const {
    parallel(ctx, outer_ * inner_, 16, [&](size_t b, size_t e, int) {
      for (size_t r = b; r < e; ++r) {
        const size_t o = r / inner_, i = r % inner_;
        const T* xs = x + o * n_ * inner_ + i;
        T* ys = y + o * n_ * inner_ + i;
        T m = -INFINITY;
        for (size_t k = 0; k < n_; ++k) m = std::max(m, xs[k * inner_]);
        double sum = 0;
        for (size_t k = 0; k < n_; ++k) sum += std::exp(double(xs[k * inner_] - m));
        if (log_) {
          const T ls = T(std::log(sum));
          for (size_t k = 0; k < n_; ++k) ys[k * inner_] = xs[k * inner_] - m - ls;
        } else {
          const double inv = 1.0 / sum;
          for (size_t k = 0; k < n_; ++k) ys[k * inner_] = T(std::exp(double(xs[k * inner_] - m)) * inv);
        }
      }
    });
  }

  bool log_, coerce_ = false, f64_ = false;
  int64_t axis_;
  size_t outer_ = 1, n_ = 1, inner_ = 1;
};

}  // namespace

std::unique_ptr<Op> make_softmax(const NodeContext& ctx) { return std::make_unique<Softmax>(ctx); }

}  // namespace pyrt::ops
