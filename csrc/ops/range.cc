// Range (start, limit, delta): start + k * delta for k in [0, ceil((limit - start) / delta)). The output's
// length depends on the three scalars, so they must be known when the plan is made (constants, or computed
// from input shapes, as position ids are); the values are then written once per plan.
#include <cmath>

#include "kernels/ref/ref.h"
#include "ops/typed.h"

namespace pyrt::ops {
namespace {

class Range final : public Op {
 public:
  explicit Range(const NodeContext& ctx) { ctx.expect_inputs(3, 3); }
  bool plan_input(size_t) const override { return true; }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    dtype_ = in[0].dtype;
    for (int i = 0; i < 3; ++i) {
      if (in[size_t(i)].dtype != dtype_) fail("start, limit and delta must have one dtype");
      if (in[size_t(i)].numel() != 1) fail("start, limit and delta must be scalars");
      if (!in[size_t(i)].value)
        fail("start, limit and delta must be known when the plan is made (the output's length depends on them)");
    }
    if (dtype_ == spec::kF32 || dtype_ == spec::kF16 || dtype_ == spec::kBF16) {
      const float s = real(in[0]), l = real(in[1]), d = real(in[2]);
      if (d == 0.f || !std::isfinite(s) || !std::isfinite(l) || !std::isfinite(d))
        fail("delta must be non-zero and every value finite");
      const double n = std::ceil((double(l) - double(s)) / double(d));
      if (n > double(int64_t(1) << 40)) fail("the range has too many elements");
      n_ = n > 0 ? int64_t(n) : 0;
      f_start_ = s, f_delta_ = d;
    } else if (dtype_ == spec::kI64 || dtype_ == spec::kI32) {
      const int64_t s = dtype_ == spec::kI64 ? scalar<int64_t>(in[0]) : scalar<int32_t>(in[0]);
      const int64_t l = dtype_ == spec::kI64 ? scalar<int64_t>(in[1]) : scalar<int32_t>(in[1]);
      const int64_t d = dtype_ == spec::kI64 ? scalar<int64_t>(in[2]) : scalar<int32_t>(in[2]);
      if (d == 0) fail("delta must not be 0");
      // (limit - start) in 128 bits: the difference of two int64 can overflow 64
      const __int128 span = __int128(l) - __int128(s);
      const __int128 n = span / d + ((span % d != 0) && ((span > 0) == (d > 0)) ? 1 : 0);
      if (n > (__int128(1) << 40)) fail("the range has too many elements");
      n_ = n > 0 ? int64_t(n) : 0;
      i_start_ = s, i_delta_ = d;
    } else {
      fail(std::string("dtype ") + spec::dtype_name(dtype_) + " is not supported (f32, f16, bf16, i32, i64)");
    }
    out[0] = {{n_}, dtype_};
  }
  bool reads_input(size_t) const override { return false; }  // the scalars were read when the plan was made
  void run(const RunContext&, const std::vector<const void*>&, const std::vector<void*>& out) override {
    if (dtype_ == spec::kF16 || dtype_ == spec::kBF16) {  // the f32 values, rounded (as numpy's arange in f16)
      uint16_t* y = static_cast<uint16_t*>(out[0]);
      for (int64_t k = 0; k < n_; ++k) {
        const float f = f_start_ + float(k) * f_delta_;
        y[k] = dtype_ == spec::kF16 ? kernels::ref::f32_to_f16_one(f) : to_bf16(f).bits;
      }
    } else if (dtype_ == spec::kF32) {
      float* y = static_cast<float*>(out[0]);
      for (int64_t k = 0; k < n_; ++k) y[k] = f_start_ + float(k) * f_delta_;
    } else if (dtype_ == spec::kI64) {
      int64_t* y = static_cast<int64_t*>(out[0]);
      for (int64_t k = 0; k < n_; ++k) y[k] = i_start_ + k * i_delta_;
    } else {
      int32_t* y = static_cast<int32_t*>(out[0]);
      for (int64_t k = 0; k < n_; ++k) y[k] = int32_t(i_start_ + k * i_delta_);
    }
  }
  std::string kernel() const override { return "range"; }

 private:
  template <typename T>
  static T scalar(const TensorDesc& d) { return *static_cast<const T*>(d.value); }
  static float real(const TensorDesc& d) {
    if (d.dtype == spec::kF16) return to_float(scalar<Half>(d));
    if (d.dtype == spec::kBF16) return to_float(scalar<BHalf>(d));
    return scalar<float>(d);
  }
  uint8_t dtype_ = spec::kI64;
  int64_t n_ = 0, i_start_ = 0, i_delta_ = 1;
  float f_start_ = 0, f_delta_ = 1;
};

}  // namespace

std::unique_ptr<Op> make_range(const NodeContext& ctx) { return std::make_unique<Range>(ctx); }

}  // namespace pyrt::ops
