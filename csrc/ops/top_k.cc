// TopK (ONNX): the k largest (largest = 1) or smallest values along `axis` (constant K), sorted, and their
// indices (i64). Equal values keep the lower index first (ONNX's rule); NaN counts as larger than any number.
// Any number type (f32, f64, the integers).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <type_traits>

#include "ops/typed.h"

namespace pyrt::ops {
namespace {

class TopK final : public Op {
 public:
  explicit TopK(const NodeContext& ctx) {
    ctx.expect_inputs(2, 2);
    k_in_ = IntsInput(ctx, 1, "K", "");
    axis_ = ctx.attr_int("axis", -1);
    largest_ = ctx.attr_int("largest", 1) != 0;
    (void)ctx.attr_int("sorted", 1);  // sorted = 0 allows any order; ours is always sorted
  }
  bool plan_input(size_t i) const override { return i == 1; }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    const std::vector<int64_t>& k = k_in_.at(*this, in);
    if (k.size() != 1 || k[0] < 0) fail("K must be one value >= 0");
    k_ = k[0];
    dtype_ = in[0].dtype;
    if (dtype_ == spec::kBool || dtype_ == spec::kF16 || dtype_ == spec::kBF16)
      fail(std::string("X must be a number type with C++ arithmetic (f32, f64, integers), got ") + spec::dtype_name(dtype_));
    const Shape& x = in[0].shape;
    const size_t a = size_t(norm_axis(*this, axis_, x.size()));
    if (k_ > x[a]) fail("K = " + std::to_string(k_) + " is larger than the axis (" + std::to_string(x[a]) + ")");
    sp_ = split_at(x, a);
    Shape o = x;
    o[a] = k_;
    out[0] = {o, dtype_};
    out[1] = {o, spec::kI64};
  }
  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    visit_numeric(dtype_, [&](auto tag) { run_typed<decltype(tag)>(in, out); });
  }
  std::string kernel() const override { return "topk-ref"; }

 private:
  template <typename T>
  void run_typed(const std::vector<const void*>& in, const std::vector<void*>& out) const {
    const T* x = static_cast<const T*>(in[0]);
    T* v = static_cast<T*>(out[0]);
    int64_t* ix = static_cast<int64_t*>(out[1]);
    const int64_t len = sp_.len, inner = sp_.inner;
    std::vector<int64_t> order(static_cast<size_t>(len));
    for (int64_t o = 0; o < sp_.outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        const T* p = x + o * len * inner + i;
        auto key = [&](int64_t j) { return p[j * inner]; };
        // a before b: larger (or smaller) first, NaN as the largest, then the lower index
        auto before = [&](int64_t a, int64_t b) {
          const T fa = key(a), fb = key(b);
          if constexpr (std::is_floating_point_v<T>) {
            const bool na = std::isnan(fa), nb = std::isnan(fb);
            if (na || nb) return na != nb ? (largest_ ? na : nb) : a < b;
          }
          if (fa != fb) return largest_ ? fa > fb : fa < fb;
          return a < b;
        };
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(order.begin(), order.begin() + k_, order.end(), before);
        for (int64_t t = 0; t < k_; ++t) {
          const int64_t at = (o * k_ + t) * inner + i;
          v[at] = key(order[size_t(t)]);
          ix[at] = order[size_t(t)];
        }
      }
  }

  IntsInput k_in_;
  uint8_t dtype_ = spec::kF32;
  int64_t k_ = 1, axis_ = -1;
  AxisSplit sp_;
  bool largest_ = true;
};

}  // namespace

std::unique_ptr<Op> make_top_k(const NodeContext& ctx) { return std::make_unique<TopK>(ctx); }

}  // namespace pyrt::ops
