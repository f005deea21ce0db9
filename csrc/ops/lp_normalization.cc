// LpNormalization (ONNX): x divided by its L1 (p = 1) or L2 (p = 2) norm along `axis`. f32; a zero norm gives
// zeros (ONNX's test data, ONNX Runtime), not 0 / 0.
#include <cmath>

#include "ops/common.h"

namespace pyrt::ops {
namespace {

class LpNormalization final : public Op {
 public:
  explicit LpNormalization(const NodeContext& ctx) {
    ctx.expect_inputs(1, 1);
    axis_ = ctx.attr_int("axis", -1);
    p_ = ctx.attr_int("p", 2);
    if (p_ != 1 && p_ != 2) ctx.fail("p must be 1 or 2, got " + std::to_string(p_));
  }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    require_f32(*this, in[0], "input");
    if (in[0].shape.empty()) fail("input must have rank >= 1");
    sp_ = split_at(in[0].shape, size_t(norm_axis(*this, axis_, in[0].shape.size())));
    out[0] = in[0];
  }
  int inplace_input() const override { return 0; }
  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const float* x = static_cast<const float*>(in[0]);
    float* y = static_cast<float*>(out[0]);
    const int64_t len = sp_.len, inner = sp_.inner;
    for (int64_t o = 0; o < sp_.outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t base = o * len * inner + i;
        double s = 0;  // summed in double: the norm of a long axis keeps f32 precision
        for (int64_t t = 0; t < len; ++t) {
          const double v = x[base + t * inner];
          s += p_ == 1 ? std::fabs(v) : v * v;
        }
        const float norm = float(p_ == 1 ? s : std::sqrt(s));
        for (int64_t t = 0; t < len; ++t) y[base + t * inner] = norm == 0.f ? 0.f : x[base + t * inner] / norm;
      }
  }
  std::string kernel() const override { return "lpnorm-ref"; }

 private:
  int64_t axis_ = -1, p_ = 2;
  AxisSplit sp_;
};

}  // namespace

std::unique_ptr<Op> make_lp_normalization(const NodeContext& ctx) {
  return std::make_unique<LpNormalization>(ctx);
}

}  // namespace pyrt::ops
