// ReduceMean, ReduceSum, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceSumSquare, ReduceLogSum,
// ReduceLogSumExp (ONNX) over a set of axes (attribute, or constant input 1 from opset 13/18), keepdims,
// noop_with_empty_axes. Sums accumulate in double, in one pass over the input (over a contiguous run, in four
// interleaved partial sums).
#include <cmath>
#include <type_traits>
#include <limits>

#include "kernels/ref/ref.h"
#include "ops/typed.h"

// The sums run in order, in double: nothing for the vectorizer to gain, and gcc 12's for aarch64 stops with an
// internal error (vect_transform_reduction) on the contiguous-run loop below.
#if defined(__GNUC__) && !defined(__clang__)
#define PYRT_NO_VECTORIZE __attribute__((optimize("no-tree-vectorize")))
#else
#define PYRT_NO_VECTORIZE
#endif

namespace pyrt::ops {
namespace {

enum Kind { kMean, kSum, kMax, kMin, kProd, kL1, kL2, kSumSquare, kLogSum, kLogSumExp };

Kind kind_of(const std::string& t) {
  return t == "ReduceMean" ? kMean : t == "ReduceSum" ? kSum : t == "ReduceMax" ? kMax : t == "ReduceMin" ? kMin
       : t == "ReduceProd" ? kProd : t == "ReduceL1" ? kL1 : t == "ReduceL2" ? kL2
       : t == "ReduceSumSquare" ? kSumSquare : t == "ReduceLogSum" ? kLogSum : kLogSumExp;
}

class Reduce final : public Op {
 public:
  explicit Reduce(const NodeContext& ctx) : kind_(kind_of(ctx.node().op_type)) {
    ctx.expect_inputs(1, 2);
    axes_in_ = IntsInput(ctx, 1, "axes", "axes");
    keep_ = ctx.attr_int("keepdims", 1) != 0;
    noop_empty_ = ctx.attr_int("noop_with_empty_axes", 0) != 0;
  }
  bool plan_input(size_t i) const override { return i == 1; }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    axes_ = axes_in_.at(*this, in);
    noop_ = noop_empty_ && axes_.empty();
    dtype_ = in[0].dtype;
    if (dtype_ == spec::kBool && kind_ != kMax && kind_ != kMin)  // any / all; sums of bools have no bool result
      fail("bool input takes ReduceMax (any) or ReduceMin (all) only");
    const Shape& x = in[0].shape;
    red_.assign(x.size(), axes_.empty() && !noop_);
    for (int64_t a : axes_) {
      const size_t d = size_t(norm_axis(*this, a, x.size()));
      if (red_[d]) fail("axis " + std::to_string(a) + " is given twice");
      red_[d] = true;
    }
    Shape o;
    count_ = 1;
    for (size_t i = 0; i < x.size(); ++i) {
      if (red_[i]) count_ *= x[i];
      if (!red_[i]) o.push_back(x[i]);
      else if (keep_) o.push_back(1);
    }
    xs_ = x;
    out[0] = {o, dtype_};
    nout_ = size_t(numel(o));
  }
  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    // accumulated in double whatever the type (bool as 0 / 1: max is any, min is all)
    visit_dtype(dtype_, [&](auto tag) {
      using T = decltype(tag);
      run_typed(static_cast<const T*>(in[0]), static_cast<T*>(out[0]));
    });
  }
  std::string kernel() const override { return "reduce-ref"; }

 private:
  template <typename T>
  void run_typed(const T* x, T* y) {
    const double inf = std::numeric_limits<double>::infinity();
    const double init = kind_ == kMax || kind_ == kLogSumExp ? -inf : kind_ == kMin ? inf : kind_ == kProd ? 1 : 0;
    acc_.assign(nout_, init);
    if (kind_ == kLogSumExp) {  // max first, so that exp never overflows
      walk([&](size_t o, double v) { acc_[o] = std::fmax(acc_[o], v); }, x);
      shift_ = acc_;
      acc_.assign(nout_, 0.0);
      walk([&](size_t o, double v) { acc_[o] += std::exp(v - shift_[o]); }, x);
    } else if (const size_t run = trailing_run(); run && (kind_ == kSum || kind_ == kMean || kind_ == kLogSum)) {
      for (size_t o = 0; o < nout_; ++o) acc_[o] = sum_run(x + o * run, run, [](double v) { return v; });
    } else if (run && kind_ == kL1) {
      for (size_t o = 0; o < nout_; ++o) acc_[o] = sum_run(x + o * run, run, [](double v) { return std::fabs(v); });
    } else if (run && (kind_ == kL2 || kind_ == kSumSquare)) {
      for (size_t o = 0; o < nout_; ++o) acc_[o] = sum_run(x + o * run, run, [](double v) { return v * v; });
    } else if (size_t outer, red, inner; !run && one_block(&outer, &red, &inner) &&
               (kind_ == kSum || kind_ == kMean || kind_ == kLogSum)) {
      // one block of reduced axes with kept ones after it (a mean over channels): each reduced slice adds a
      // contiguous row to a row of outputs, in order, as the walk would
      for (size_t a = 0; a < outer; ++a)
        for (size_t r = 0; r < red; ++r) {
          const T* row = x + (a * red + r) * inner;
          double* out = acc_.data() + a * inner;
          for (size_t i = 0; i < inner; ++i) out[i] += as_double(row[i]);
        }
    } else {
      walk([&](size_t o, double v) { acc_[o] = step(acc_[o], v); }, x);
    }
    for (size_t i = 0; i < nout_; ++i) y[i] = to_out<T>(finish(i));
  }
  // The length of the contiguous run each output reduces when the reduced axes trail (a mean over H, W or over
  // the last axis), else 0.
  size_t trailing_run() const {
    const size_t n = size_t(numel(xs_)), r = xs_.size();
    if (n == 0) return 0;
    size_t first_red = r;
    while (first_red > 0 && red_[first_red - 1]) --first_red;
    for (size_t d = 0; d < first_red; ++d)
      if (red_[d]) return 0;
    return n / nout_;
  }
  // Whether the reduced axes are one block of consecutive axes: (kept before, reduced, kept after) element counts.
  bool one_block(size_t* outer, size_t* red, size_t* inner) const {
    const size_t r = xs_.size();
    size_t a = 0;
    while (a < r && !red_[a]) ++a;
    size_t b = a;
    while (b < r && red_[b]) ++b;
    for (size_t d = b; d < r; ++d)
      if (red_[d]) return false;
    if (a == b || numel(xs_) == 0) return false;
    *outer = *red = *inner = 1;
    for (size_t d = 0; d < r; ++d) (d < a ? *outer : d < b ? *red : *inner) *= size_t(xs_[d]);
    return true;
  }
  // A sum of g(value) over a contiguous run in eight partial sums (double): the adds do not wait on each other and
  // the compiler makes them vector adds; a double's 53 bits leave the f32 result as exact as in order.
  template <typename T, typename G>
  static double sum_run(const T* p, size_t n, G g) {
    double s[8] = {};
    size_t j = 0;
    for (; j + 8 <= n; j += 8)
      for (int k = 0; k < 8; ++k) s[k] += g(as_double(p[j + k]));
    for (; j < n; ++j) s[0] += g(as_double(p[j]));
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  }
  // Integers saturate (the max of an empty set is the type's lowest value, not an undefined conversion).
  template <typename T>
  static double as_double(T v) {
    if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BHalf>) return double(to_float(v));
    else return double(v);
  }
  template <typename T>
  static T to_out(double v) {
    if constexpr (std::is_same_v<T, Half>) {  // f16 / bf16: accumulated in double, rounded once
      return Half{kernels::ref::f32_to_f16_one(float(v))};
    } else if constexpr (std::is_same_v<T, BHalf>) {
      return to_bf16(float(v));
    } else if constexpr (std::is_floating_point_v<T>) {
      return T(v);
    } else {
      if (std::isnan(v)) return T(0);
      if (v <= double(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
      if (v >= double(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
      return T(v);
    }
  }
  // f(output index, value) for every input element, in order. The reduced axes trailing (a mean over H, W or
  // over the last axis): each output is one contiguous run. Otherwise an odometer over the input's index: the
  // output index moves by a stride per axis (0 on reduced ones), no division per element.
  template <typename F, typename T>
  PYRT_NO_VECTORIZE void walk(F&& f, const T* x) const {
    const size_t n = size_t(numel(xs_)), r = xs_.size();
    if (n == 0) return;
    if (const size_t run = trailing_run()) {
      for (size_t o = 0; o < nout_; ++o)
        for (size_t j = 0; j < run; ++j) f(o, as_double(x[o * run + j]));
      return;
    }
    std::vector<size_t> idx(r, 0), stride(r, 0);
    for (size_t d = r, mul = 1; d-- > 0;) {
      if (!red_[d]) {
        stride[d] = mul;
        mul *= size_t(xs_[d]);
      }
    }
    size_t oi = 0;
    for (size_t e = 0; e < n; ++e) {
      f(oi, as_double(x[e]));
      for (size_t d = r; d-- > 0;) {  // next index: carry into the axes before
        oi += stride[d];
        if (++idx[d] < size_t(xs_[d])) break;
        oi -= stride[d] * idx[d];
        idx[d] = 0;
      }
    }
  }
  double step(double a, double v) const {
    switch (kind_) {
      case kMax: return std::isnan(v) || std::isnan(a) ? NAN : std::fmax(a, v);  // NaN propagates (numpy)
      case kMin: return std::isnan(v) || std::isnan(a) ? NAN : std::fmin(a, v);
      case kProd: return a * v;
      case kL1: return a + std::fabs(v);
      case kL2: case kSumSquare: return a + v * v;
      default: return a + v;  // mean, sum, log-sum
    }
  }
  double finish(size_t i) const {
    const double a = acc_[i];
    switch (kind_) {
      case kMean: return count_ ? a / double(count_) : NAN;
      case kL2: return std::sqrt(a);
      case kLogSum: return std::log(a);
      case kLogSumExp: return shift_[i] + std::log(a);
      default: return a;
    }
  }

  Kind kind_;
  uint8_t dtype_ = spec::kF32;
  std::vector<int64_t> axes_;
  IntsInput axes_in_;
  bool keep_ = true, noop_ = false, noop_empty_ = false;
  std::vector<bool> red_;
  Shape xs_;
  int64_t count_ = 1;
  size_t nout_ = 0;
  std::vector<double> acc_, shift_;
};

}  // namespace

std::unique_ptr<Op> make_reduce(const NodeContext& ctx) { return std::make_unique<Reduce>(ctx); }

}  // namespace pyrt::ops
