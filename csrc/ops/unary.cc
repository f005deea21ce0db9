// Elementwise activations and unary math (Relu, Clip, LeakyRelu, Sigmoid, Tanh, Silu, HardSigmoid,
// HardSwish, Gelu, Exp, Sqrt, Neg, Abs, Erf, Reciprocal, Sin, Cos, Log, Floor, Ceil, Round, Sign, Softplus,
// Softsign, Elu, Selu, Celu, Mish, ThresholdedRelu, the inverse / hyperbolic trigonometry, Tan, Swish, Shrink,
// Identity/Dropout): one operator with the function as a
// parameter (ops/common.cc activation_for_op).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "kernels/ref/ref.h"
#include "ops/typed.h"

namespace pyrt::ops {
namespace {

class Unary final : public Op {
 public:
  explicit Unary(const NodeContext& ctx) : k_(ctx.kernels()) {
    const std::string& t = ctx.node().op_type;
    ctx.expect_inputs(1, (t == "Clip" || t == "Dropout") ? 3 : 1);
    a_ = activation_for_op(ctx);
    if (t == "Clip") {  // opset >= 11: min / max as optional inputs, known when the plan is made
      for (size_t i = 1; i <= 2; ++i) bound_[i - 1] = ctx.has_input(i);
    }
    if (a_.act == Act::kClip) clip_lo_ = a_.p0, clip_hi_ = a_.p1;
  }
  bool plan_input(size_t i) const override { return i >= 1 && bound_[i - 1]; }
  bool takes_strings() const override { return a_.act == Act::kNone; }  // Identity / Dropout copy the handles
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    dtype_ = in[0].dtype;
    if (dtype_ != spec::kF32 && dtype_ != spec::kString) check_typed();
    for (size_t i = 1; i <= 2; ++i) {
      if (i >= in.size() || !bound_[i - 1]) continue;
      const TensorDesc& d = in[i];
      if (!d.value) fail(std::string(i == 1 ? "min" : "max") + " must be known when the plan is made");
      if (d.dtype != dtype_) fail("min and max must have the input's element type");
      if (d.numel() != 1) fail("min and max must be scalars");
      double v = 0;
      if (d.dtype == spec::kF16 || d.dtype == spec::kBF16) {
        v = d.dtype == spec::kF16 ? to_float(*static_cast<const Half*>(d.value)) : to_float(*static_cast<const BHalf*>(d.value));
      } else {
        visit_numeric(d.dtype, [&](auto tag) { v = double(*static_cast<const decltype(tag)*>(d.value)); });
      }
      (i == 1 ? clip_lo_ : clip_hi_) = v;
      (i == 1 ? a_.p0 : a_.p1) = float(v);
    }
    out[0] = in[0];
    for (size_t i = 1; i < out.size(); ++i) out[i] = {in[0].shape, spec::kBool};  // Dropout's mask
    n_ = size_t(in[0].numel());
  }
  int inplace_input() const override { return 0; }
  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    if (dtype_ == spec::kString) {
      if (out[0] != in[0]) std::memcpy(out[0], in[0], n_ * spec::dtype_size(dtype_));
      for (size_t i = 1; i < out.size(); ++i) std::fill_n(static_cast<uint8_t*>(out[i]), n_, uint8_t(1));
      return;
    }
    if (dtype_ != spec::kF32) {
      run_typed(in[0], out[0]);
      for (size_t i = 1; i < out.size(); ++i) std::fill_n(static_cast<uint8_t*>(out[i]), n_, uint8_t(1));
      return;
    }
    const float* x = static_cast<const float*>(in[0]);
    float* y = static_cast<float*>(out[0]);
    parallel(ctx, n_, 1 << 14, [&](size_t b, size_t e, int) { k_.unary(a_, x + b, y + b, e - b); });
    for (size_t i = 1; i < out.size(); ++i) std::fill_n(static_cast<uint8_t*>(out[i]), n_, uint8_t(1));
  }
  std::string kernel() const override { return dtype_ == spec::kF32 ? std::string("unary-") + k_.name : "unary-ref"; }

 private:
  // Other element types, one element at a time: f64 in double; f16 / bf16 through the f32 reference; the
  // integer types for the functions that keep integers integers (Relu, Clip, Neg, Abs, Sign, Identity).
  bool int_safe() const {
    return a_.act == Act::kNone || a_.act == Act::kRelu || a_.act == Act::kClip || a_.act == Act::kNeg ||
           a_.act == Act::kAbs || a_.act == Act::kSign;
  }
  bool double_ok() const {
    switch (a_.act) {
      case Act::kNone: case Act::kRelu: case Act::kClip: case Act::kNeg: case Act::kAbs: case Act::kSign:
      case Act::kExp: case Act::kLog: case Act::kSqrt: case Act::kReciprocal: case Act::kFloor: case Act::kCeil:
      case Act::kRound: case Act::kSigmoid: case Act::kTanh: case Act::kSin: case Act::kCos: case Act::kErf:
        return true;
      default:
        return false;
    }
  }
  void check_typed() const {
    const bool half = dtype_ == spec::kF16 || dtype_ == spec::kBF16;
    const bool ok = half || (dtype_ == spec::kF64 && double_ok()) ||
                    (dtype_ != spec::kBool && dtype_ != spec::kF64 && int_safe());
    if (!ok) fail(std::string("input has dtype ") + spec::dtype_name(dtype_) + ", which this function does not take");
  }
  double apply(double x) const {
    switch (a_.act) {
      case Act::kRelu: return x > 0 ? x : 0;
      case Act::kClip: return std::min(std::max(x, clip_lo_), clip_hi_);
      case Act::kNeg: return -x;
      case Act::kAbs: return std::fabs(x);
      case Act::kSign: return x > 0 ? 1 : x < 0 ? -1 : x;
      case Act::kExp: return std::exp(x);
      case Act::kLog: return std::log(x);
      case Act::kSqrt: return std::sqrt(x);
      case Act::kReciprocal: return 1 / x;
      case Act::kFloor: return std::floor(x);
      case Act::kCeil: return std::ceil(x);
      case Act::kRound: return std::nearbyint(x);
      case Act::kSigmoid: return 1 / (1 + std::exp(-x));
      case Act::kTanh: return std::tanh(x);
      case Act::kSin: return std::sin(x);
      case Act::kCos: return std::cos(x);
      case Act::kErf: return std::erf(x);
      default: return x;
    }
  }
  void run_typed(const void* in, void* out) const {
    if (dtype_ == spec::kF16 || dtype_ == spec::kBF16) {
      std::vector<float> buf(n_);
      for (size_t i = 0; i < n_; ++i)
        buf[i] = dtype_ == spec::kF16 ? to_float(static_cast<const Half*>(in)[i]) : to_float(static_cast<const BHalf*>(in)[i]);
      kernels::reference().unary(a_, buf.data(), buf.data(), n_);
      for (size_t i = 0; i < n_; ++i) {
        if (dtype_ == spec::kF16) static_cast<Half*>(out)[i] = Half{kernels::ref::f32_to_f16_one(buf[i])};
        else static_cast<BHalf*>(out)[i] = to_bf16(buf[i]);
      }
      return;
    }
    visit_numeric(dtype_, [&](auto tag) {
      using T = decltype(tag);
      const T* x = static_cast<const T*>(in);
      T* y = static_cast<T*>(out);
      for (size_t i = 0; i < n_; ++i) {
        const double r = apply(double(x[i]));  // integers: exact in double up to 2^53
        if constexpr (std::is_floating_point_v<T>) {
          y[i] = T(r);
        } else {  // saturate (|INT_MIN|, -x of an unsigned) instead of an undefined conversion
          y[i] = r <= double(std::numeric_limits<T>::lowest()) ? std::numeric_limits<T>::lowest()
               : r >= double(std::numeric_limits<T>::max()) ? std::numeric_limits<T>::max() : T(r);
        }
      }
    });
  }

  uint8_t dtype_ = spec::kF32;
  double clip_lo_ = -INFINITY, clip_hi_ = INFINITY;
  bool bound_[2] = {false, false};  // Clip's min / max inputs
  const kernels::Table& k_;
  ActParams a_;
  size_t n_ = 0;
};

}  // namespace

std::unique_ptr<Op> make_unary(const NodeContext& ctx) { return std::make_unique<Unary>(ctx); }

}  // namespace pyrt::ops
