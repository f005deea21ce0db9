// InstanceNormalization (ONNX): each (n, c) plane of x [N, C, ...] normalized by its own mean and variance
// (population variance, epsilon inside the square root), then scaled and shifted per channel. f32; mean and
// variance in double, over the plane in order.
#include <cmath>

#include "ops/common.h"

namespace pyrt::ops {
namespace {

class InstanceNorm final : public Op {
 public:
  explicit InstanceNorm(const NodeContext& ctx) {
    ctx.expect_inputs(3, 3);
    eps_ = ctx.attr_float("epsilon", 1e-5f);
  }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    require_f32(*this, in[0], "input");
    require_f32(*this, in[1], "scale");
    require_f32(*this, in[2], "B");
    const Shape& x = in[0].shape;
    if (x.size() < 3) fail("input must be N x C x D1 ... (rank >= 3), got " + shape_str(x));
    if (in[1].shape != Shape{x[1]} || in[2].shape != Shape{x[1]})
      fail("scale and B must have C = " + std::to_string(x[1]) + " values, got " + shape_str(in[1].shape) + " and " +
           shape_str(in[2].shape));
    planes_ = x[0] * x[1], c_ = x[1];
    size_ = planes_ ? numel(x) / planes_ : 0;
    out[0] = in[0];
  }
  int inplace_input() const override { return 0; }
  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const float* x = static_cast<const float*>(in[0]);
    const float* scale = static_cast<const float*>(in[1]);
    const float* bias = static_cast<const float*>(in[2]);
    float* y = static_cast<float*>(out[0]);
    parallel(ctx, size_t(planes_), 1, [&](size_t p0, size_t p1, int) {
      for (size_t p = p0; p < p1; ++p) {
        const float* xp = x + p * size_t(size_);
        double s = 0, ss = 0;
        for (int64_t i = 0; i < size_; ++i) s += xp[i];
        const double mean = size_ ? s / double(size_) : 0.0;
        for (int64_t i = 0; i < size_; ++i) ss += (xp[i] - mean) * (xp[i] - mean);
        const double var = size_ ? ss / double(size_) : 0.0;
        const size_t c = p % size_t(c_);
        const float a = float(double(scale[c]) / std::sqrt(var + double(eps_)));
        const float b = float(double(bias[c]) - mean * double(a));
        float* yp = y + p * size_t(size_);
        for (int64_t i = 0; i < size_; ++i) yp[i] = xp[i] * a + b;
      }
    });
  }
  std::string kernel() const override { return "instance-norm-ref"; }

 private:
  float eps_;
  int64_t planes_ = 0, c_ = 1, size_ = 0;
};

}  // namespace

std::unique_ptr<Op> make_instance_norm(const NodeContext& ctx) { return std::make_unique<InstanceNorm>(ctx); }

}  // namespace pyrt::ops
