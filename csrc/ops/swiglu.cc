// SwiGLU (ONNX 28): Y = A sigmoid(alpha A) B, A and B of one shape (no broadcasting). f32, and f16 computed in
// f32 and rounded once.
#include <cmath>

#include "kernels/ref/ref.h"
#include "ops/typed.h"

namespace pyrt::ops {
namespace {

class SwiGlu final : public Op {
 public:
  explicit SwiGlu(const NodeContext& ctx) {
    ctx.expect_inputs(2, 2);
    alpha_ = ctx.attr_float("alpha", 1.f);
  }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    if (in[0].dtype != spec::kF32 && in[0].dtype != spec::kF16)
      fail(std::string("A must be f32 or f16, got ") + spec::dtype_name(in[0].dtype));
    if (in[1].dtype != in[0].dtype) fail("A and B must have one element type");
    if (in[0].shape != in[1].shape)
      fail("A " + shape_str(in[0].shape) + " and B " + shape_str(in[1].shape) + " must have one shape");
    f16_ = in[0].dtype == spec::kF16, n_ = in[0].numel();
    out[0] = in[0];
  }
  int inplace_input() const override { return 0; }
  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    auto f = [&](float a, float b) { return a / (1.f + std::exp(-alpha_ * a)) * b; };
    if (f16_) {
      const uint16_t* a = static_cast<const uint16_t*>(in[0]);
      const uint16_t* b = static_cast<const uint16_t*>(in[1]);
      uint16_t* y = static_cast<uint16_t*>(out[0]);
      for (int64_t i = 0; i < n_; ++i)
        y[i] = kernels::ref::f32_to_f16_one(f(scalar::f16_to_f32(a[i]), scalar::f16_to_f32(b[i])));
      return;
    }
    const float* a = static_cast<const float*>(in[0]);
    const float* b = static_cast<const float*>(in[1]);
    float* y = static_cast<float*>(out[0]);
    for (int64_t i = 0; i < n_; ++i) y[i] = f(a[i], b[i]);
  }
  std::string kernel() const override { return "swiglu-ref"; }

 private:
  float alpha_ = 1.f;
  bool f16_ = false;
  int64_t n_ = 0;
};

}  // namespace

std::unique_ptr<Op> make_swiglu(const NodeContext& ctx) { return std::make_unique<SwiGlu>(ctx); }

}  // namespace pyrt::ops
