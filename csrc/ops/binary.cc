// Add, Sub, Mul, Div, Pow, Max, Min, PRelu (x, slope) with numpy broadcasting, and an optional fused activation (the exporter
// fuses e.g. a residual Add + ReLU). Dimensions are coalesced so that the common cases (same shape, scalar,
// per-channel bias) run as long contiguous vector loops.
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "kernels/ref/ref.h"
#include "ops/typed.h"

namespace pyrt::ops {
namespace {

class Binary final : public Op {
 public:
  explicit Binary(const NodeContext& ctx) : k_(ctx.kernels()) {
    ctx.expect_inputs(2, 2);
    const std::string& t = ctx.node().op_type;
    op_ = t == "Add" ? kernels::kAdd : t == "Sub" ? kernels::kSub : t == "Mul" ? kernels::kMul
        : t == "Div" ? kernels::kDiv : t == "Pow" ? kernels::kPow : t == "Max" ? kernels::kMax
        : t == "PRelu" ? kernels::kPRelu : kernels::kMin;
    act_ = fused_activation(ctx);
  }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    ints_ = in[0].dtype != spec::kF32 && op_ != kernels::kPRelu;
    if (ints_) {  // shape arithmetic, index math, f64 and the other integer types: both operands of one dtype
      if (in[0].dtype == spec::kBool)
        fail(std::string("A has dtype ") + spec::dtype_name(in[0].dtype) + ", which this op does not compute in");
      if (in[1].dtype != in[0].dtype)
        fail(std::string("A is ") + spec::dtype_name(in[0].dtype) + " and B " + spec::dtype_name(in[1].dtype) + "; they must match");
      if (act_.act != Act::kNone) fail("a fused activation needs f32 operands");
      walk_.plan(*this, {in[0].shape, in[1].shape});
      dtype_ = in[0].dtype;
      out[0] = {walk_.out, in[0].dtype};
      same_a_ = false;
      return;
    }
    require_f32(*this, in[0], "input A");
    require_f32(*this, in[1], "input B");
    out[0] = {broadcast(*this, in[0].shape, in[1].shape), spec::kF32};
    if (op_ == kernels::kPRelu && out[0].shape != in[0].shape)  // ONNX: the slope broadcasts to X, not X to it
      fail("slope of shape " + shape_str(in[1].shape) + " does not broadcast to X's " + shape_str(in[0].shape));
    // Coalesce: drop size-1 dims, merge neighbours where both operands stay contiguous (or both broadcast).
    const Shape& s = out[0].shape;
    std::vector<int64_t> sa = broadcast_strides(in[0].shape, s), sb = broadcast_strides(in[1].shape, s);
    dims_.clear(), as_.clear(), bs_.clear();
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == 1) continue;
      if (!dims_.empty()) {
        const int64_t d = dims_.back();
        const bool a_ok = (as_.back() == 0 && sa[i] == 0) || (as_.back() == sa[i] * s[i] && sa[i] != 0);
        const bool b_ok = (bs_.back() == 0 && sb[i] == 0) || (bs_.back() == sb[i] * s[i] && sb[i] != 0);
        if (a_ok && b_ok) {
          dims_.back() = d * s[i];
          as_.back() = sa[i];
          bs_.back() = sb[i];
          continue;
        }
      }
      dims_.push_back(s[i]);
      as_.push_back(sa[i]);
      bs_.push_back(sb[i]);
    }
    if (dims_.empty()) dims_ = {1}, as_ = {0}, bs_ = {0};
    n_ = size_t(out[0].numel());
    same_a_ = in[0].shape == s;
  }
  int inplace_input() const override { return same_a_ ? 0 : -1; }
  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    if (ints_) {
      if (dtype_ == spec::kF16) return run_half<Half>(in, out);
      if (dtype_ == spec::kBF16) return run_half<BHalf>(in, out);
      visit_numeric(dtype_, [&](auto tag) { run_typed<decltype(tag)>(in, out); });
      return;
    }
    const float* a = static_cast<const float*>(in[0]);
    const float* b = static_cast<const float*>(in[1]);
    float* y = static_cast<float*>(out[0]);
    const size_t r = dims_.size(), inner = size_t(dims_[r - 1]);
    const size_t ias = size_t(as_[r - 1]), ibs = size_t(bs_[r - 1]);
    const size_t rows = n_ / std::max<size_t>(inner, 1);
    parallel(ctx, rows, std::max<size_t>(1, (1 << 14) / std::max<size_t>(inner, 1)), [&](size_t r0, size_t r1, int) {
      for (size_t row = r0; row < r1; ++row) {
        // offsets of this row in a and b from its multi-index over the outer dims
        size_t rem = row, oa = 0, ob = 0;
        for (size_t d = r - 1; d-- > 0;) {
          const size_t i = rem % size_t(dims_[d]);
          rem /= size_t(dims_[d]);
          oa += i * size_t(as_[d]);
          ob += i * size_t(bs_[d]);
        }
        float* yr = y + row * inner;
        if (ias <= 1 && ibs <= 1) {
          k_.binary(op_, a + oa, ias, b + ob, ibs, yr, inner);
        } else {
          for (size_t i = 0; i < inner; ++i) k_.binary(op_, a + oa + i * ias, 0, b + ob + i * ibs, 0, yr + i, 1);
        }
        if (act_.act != Act::kNone) k_.unary(act_, yr, yr, inner);
      }
    });
  }
  std::string kernel() const override { return ints_ ? "binary-int" : std::string("binary-") + k_.name; }

 private:
  // f16 / bf16: each element computed in f32 and rounded back (numpy and ONNX Runtime's reference do the same).
  template <typename H>
  void run_half(const std::vector<const void*>& in, const std::vector<void*>& out) {
    const H* a = static_cast<const H*>(in[0]);
    const H* b = static_cast<const H*>(in[1]);
    H* y = static_cast<H*>(out[0]);
    const int op = op_;
    walk_.run([&](int64_t o, const int64_t* off) {
      const float x = to_float(a[off[0]]), z = to_float(b[off[1]]);
      const float r = op == kernels::kAdd ? x + z : op == kernels::kSub ? x - z : op == kernels::kMul ? x * z
                    : op == kernels::kDiv ? x / z : op == kernels::kMax ? (x > z || std::isnan(x) ? x : z)
                    : op == kernels::kMin ? (x < z || std::isnan(x) ? x : z) : std::pow(x, z);
      if constexpr (std::is_same_v<H, Half>) y[o] = Half{kernels::ref::f32_to_f16_one(r)};
      else y[o] = to_bf16(r);
    });
  }
  // One element at a time: integer tensors are shapes, indices and masks, small and off the hot path. Wrapping
  // arithmetic (no undefined behaviour on overflow); division truncates toward zero as ONNX does, and a zero
  // divisor is an error, not a trap. f64 computes as IEEE doubles.
  template <typename T>
  void run_typed(const std::vector<const void*>& in, const std::vector<void*>& out) {
    const T* a = static_cast<const T*>(in[0]);
    const T* b = static_cast<const T*>(in[1]);
    T* y = static_cast<T*>(out[0]);
    const int op = op_;
    if constexpr (std::is_floating_point_v<T>) {
      walk_.run([&](int64_t o, const int64_t* off) {
        const T x = a[off[0]], z = b[off[1]];
        y[o] = op == kernels::kAdd ? x + z : op == kernels::kSub ? x - z : op == kernels::kMul ? x * z
             : op == kernels::kDiv ? x / z : op == kernels::kMax ? (x > z || std::isnan(x) ? x : z)
             : op == kernels::kMin ? (x < z || std::isnan(x) ? x : z) : std::pow(x, z);
      });
      return;
    } else {
    // promoted: uint8 / int16 arithmetic happens in int, then wraps back
    using U = std::make_unsigned_t<std::conditional_t<(sizeof(T) < 4), int32_t, T>>;
    walk_.run([&](int64_t o, const int64_t* off) {
      const T x = a[off[0]], z = b[off[1]];
      T r;
      switch (op) {
        case kernels::kAdd: r = T(U(x) + U(z)); break;
        case kernels::kSub: r = T(U(x) - U(z)); break;
        case kernels::kMul: r = T(U(x) * U(z)); break;
        case kernels::kDiv:
          if (z == 0) fail("integer division by zero");
          if constexpr (std::is_signed_v<T>) r = (z == -1) ? T(U(0) - U(x)) : T(x / z);
          else r = T(x / z);
          break;
        case kernels::kMax: r = x > z ? x : z; break;
        case kernels::kMin: r = x < z ? x : z; break;
        default: {  // Pow: repeated squaring, wrapping; a negative exponent gives 0 unless the base is +-1
          if constexpr (std::is_signed_v<T>) {
            if (z < 0) { r = x == 1 ? T(1) : x == T(-1) ? T((z & 1) ? -1 : 1) : T(0); break; }
          }
          U acc = 1, base = U(x);
          for (T e = z; e; e = T(e >> 1), base = U(base * base))
            if (e & 1) acc = U(acc * base);
          r = T(acc);
        }
      }
      y[o] = r;
    });
    }
  }
  bool ints_ = false;
  uint8_t dtype_ = spec::kF32;
  BroadcastWalk walk_;
  const kernels::Table& k_;
  int op_;
  ActParams act_;
  std::vector<int64_t> dims_, as_, bs_;
  size_t n_ = 0;
  bool same_a_ = false;
};

}  // namespace

std::unique_ptr<Op> make_binary(const NodeContext& ctx) { return std::make_unique<Binary>(ctx); }

}  // namespace pyrt::ops
