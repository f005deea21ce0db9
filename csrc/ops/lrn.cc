// LRN (local response normalization across channels, AlexNet / GoogLeNet):
// y = x / (bias + alpha / size * sum of x^2 over the `size` neighbouring channels) ^ beta.
#include <cmath>

#include "ops/common.h"

namespace pyrt::ops {
namespace {

class Lrn final : public Op {
 public:
  explicit Lrn(const NodeContext& ctx) {
    ctx.expect_inputs(1, 1);
    size_ = ctx.attr_int("size", 0);
    if (size_ < 1) ctx.fail("attribute 'size' must be >= 1");
    alpha_ = ctx.attr_float("alpha", 1e-4f);
    beta_ = ctx.attr_float("beta", 0.75f);
    bias_ = ctx.attr_float("bias", 1.0f);
  }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    require_f32(*this, in[0], "input");
    const Shape& x = in[0].shape;
    if (x.size() < 3) fail("input must be N x C x spatial..., got " + shape_str(x));
    n_ = x[0], c_ = x[1];
    inner_ = numel(x) / std::max<int64_t>(n_ * c_, 1);
    out[0] = in[0];
  }
  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const float* x = static_cast<const float*>(in[0]);
    float* y = static_cast<float*>(out[0]);
    const int64_t lo = (size_ - 1) / 2, hi = size_ - 1 - lo;  // window: c - lo .. c + hi
    const double k = double(alpha_) / double(size_);
    parallel(ctx, size_t(n_ * c_), 4, [&](size_t b, size_t e, int) {
      for (size_t r = b; r < e; ++r) {
        const int64_t n = int64_t(r) / c_, c = int64_t(r) % c_;
        const int64_t c0 = std::max<int64_t>(0, c - lo), c1 = std::min<int64_t>(c_ - 1, c + hi);
        for (int64_t i = 0; i < inner_; ++i) {
          double sq = 0;
          for (int64_t cc = c0; cc <= c1; ++cc) {
            const double v = x[(n * c_ + cc) * inner_ + i];
            sq += v * v;
          }
          y[r * size_t(inner_) + size_t(i)] =
              float(x[r * size_t(inner_) + size_t(i)] / std::pow(double(bias_) + k * sq, double(beta_)));
        }
      }
    });
  }
  std::string kernel() const override { return "lrn-ref"; }

 private:
  int64_t size_;
  float alpha_, beta_, bias_;
  int64_t n_ = 0, c_ = 0, inner_ = 0;
};

}  // namespace

std::unique_ptr<Op> make_lrn(const NodeContext& ctx) { return std::make_unique<Lrn>(ctx); }

}  // namespace pyrt::ops
