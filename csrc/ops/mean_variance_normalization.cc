// MeanVarianceNormalization (ONNX): (x - mean) / (sqrt(variance) + 1e-9), the mean and the (biased) variance
// taken over `axes` (default [0, 2, 3]). f32.
#include <cmath>
#include <vector>

#include "ops/common.h"

namespace pyrt::ops {
namespace {

class Mvn final : public Op {
 public:
  explicit Mvn(const NodeContext& ctx) {
    ctx.expect_inputs(1, 1);
    axes_ = ctx.attr_ints("axes", {0, 2, 3});
  }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    require_f32(*this, in[0], "input");
    shape_ = in[0].shape;
    reduced_.assign(shape_.size(), false);
    for (int64_t a : axes_) {
      const size_t k = size_t(norm_axis(*this, a, shape_.size()));
      if (reduced_[k]) fail("axis " + std::to_string(a) + " is named twice");
      reduced_[k] = true;
    }
    out[0] = in[0];
  }
  size_t workspace_bytes(const std::vector<TensorDesc>& in, const std::vector<TensorDesc>&, int) const override {
    return 2 * size_t(in[0].numel() + 1) * sizeof(double);  // per kept position: sum and sum of squares
  }
  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const float* x = static_cast<const float*>(in[0]);
    float* y = static_cast<float*>(out[0]);
    const size_t r = shape_.size();
    const int64_t n = numel(shape_);
    // the index of each element among the kept positions (the reduced axes dropped)
    std::vector<int64_t> kstride(r, 0);
    int64_t kept = 1, count = 1;
    for (size_t d = r; d-- > 0;) {
      if (reduced_[d]) count *= shape_[d];
      else kstride[d] = kept, kept *= shape_[d];
    }
    double* sum = static_cast<double*>(ctx.workspace);
    double* sq = sum + kept;
    std::fill_n(sum, 2 * kept, 0.0);
    auto walk = [&](auto&& f) {
      std::vector<int64_t> idx(r, 0);
      int64_t k = 0;
      for (int64_t e = 0; e < n; ++e) {
        f(e, k);
        for (size_t d = r; d-- > 0;) {
          k += kstride[d];
          if (++idx[d] < shape_[d]) break;
          k -= kstride[d] * shape_[d];
          idx[d] = 0;
        }
      }
    };
    walk([&](int64_t e, int64_t k) { sum[k] += x[e]; });
    for (int64_t k = 0; k < kept; ++k) sum[k] /= double(count);
    walk([&](int64_t e, int64_t k) { const double d = x[e] - sum[k]; sq[k] += d * d; });
    for (int64_t k = 0; k < kept; ++k) sq[k] = std::sqrt(sq[k] / double(count)) + 1e-9;
    walk([&](int64_t e, int64_t k) { y[e] = float((x[e] - sum[k]) / sq[k]); });
  }
  std::string kernel() const override { return "mvn-ref"; }

 private:
  std::vector<int64_t> axes_;
  Shape shape_;
  std::vector<bool> reduced_;
};

}  // namespace

std::unique_ptr<Op> make_mean_variance_normalization(const NodeContext& ctx) { return std::make_unique<Mvn>(ctx); }

}  // namespace pyrt::ops
