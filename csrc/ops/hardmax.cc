// Hardmax (ONNX 13): 1 at the first largest element along `axis`, 0 elsewhere. f32.
#include <algorithm>

#include "ops/common.h"

namespace pyrt::ops {
namespace {

class Hardmax final : public Op {
 public:
  explicit Hardmax(const NodeContext& ctx) {
    ctx.expect_inputs(1, 1);
    axis_ = ctx.attr_int("axis", -1);
  }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    require_f32(*this, in[0], "input");
    if (in[0].shape.empty()) fail("input must have rank >= 1");
    sp_ = split_at(in[0].shape, size_t(norm_axis(*this, axis_, in[0].shape.size())));
    out[0] = in[0];
  }
  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const float* x = static_cast<const float*>(in[0]);
    float* y = static_cast<float*>(out[0]);
    const int64_t len = sp_.len, inner = sp_.inner;
    std::fill_n(y, sp_.outer * len * inner, 0.f);
    if (len == 0) return;
    for (int64_t o = 0; o < sp_.outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        const float* p = x + o * len * inner + i;
        int64_t best = 0;
        for (int64_t t = 1; t < len; ++t)
          if (p[t * inner] > p[best * inner]) best = t;  // strict: ties keep the first
        y[(o * len + best) * inner + i] = 1.f;
      }
  }
  std::string kernel() const override { return "hardmax-ref"; }

 private:
  int64_t axis_ = -1;
  AxisSplit sp_;
};

}  // namespace

std::unique_ptr<Op> make_hardmax(const NodeContext& ctx) { return std::make_unique<Hardmax>(ctx); }

}  // namespace pyrt::ops
