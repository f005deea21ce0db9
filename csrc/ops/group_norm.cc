// GroupNormalization (ONNX): x [N, C, ...] split into `num_groups` groups of C / num_groups channels; each
// (n, group) block is normalized by its own mean and population variance (epsilon inside the square root),
// then scaled and shifted. Opset 21 (what onnx 1.23 makes by default) gives scale and bias per channel, [C];
// opset 18 gave them per group, [num_groups]. Files carry no opset, so the shape says which: [C] is read per
// channel, [num_groups] per group (the two agree when num_groups == C). f32; mean and variance in double,
// over the block in order (stash_type asks for at least f32 statistics, which double satisfies).
#include <cmath>

#include "ops/common.h"

namespace pyrt::ops {
namespace {

class GroupNorm final : public Op {
 public:
  explicit GroupNorm(const NodeContext& ctx) {
    ctx.expect_inputs(3, 3);
    eps_ = ctx.attr_float("epsilon", 1e-5f);
    if (!ctx.attr("num_groups")) ctx.fail("the attribute num_groups is required");
    groups_ = ctx.attr_int("num_groups", 0);
    if (groups_ < 1) ctx.fail("num_groups must be >= 1, got " + std::to_string(groups_));
    const int64_t stash = ctx.attr_int("stash_type", 1);
    if (stash != 1) ctx.fail("stash_type " + std::to_string(stash) + " is not supported (only 1, f32)");
    if (!(eps_ >= 0.f)) ctx.fail("epsilon must be >= 0");
  }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    require_f32(*this, in[0], "input");
    require_f32(*this, in[1], "scale");
    require_f32(*this, in[2], "bias");
    const Shape& x = in[0].shape;
    if (x.size() < 2) fail("input must be N x C x D1 ... (rank >= 2), got " + shape_str(x));
    c_ = x[1];
    if (c_ % groups_)
      fail("num_groups " + std::to_string(groups_) + " does not divide the " + std::to_string(c_) + " channels");
    if (in[1].shape != in[2].shape) fail("scale " + shape_str(in[1].shape) + " and bias " + shape_str(in[2].shape) +
                                         " must have one shape");
    if (in[1].shape == Shape{c_}) per_group_ = false;
    else if (in[1].shape == Shape{groups_}) per_group_ = true;
    else
      fail("scale and bias must have C = " + std::to_string(c_) + " values (opset 21) or num_groups = " +
           std::to_string(groups_) + " (opset 18), got " + shape_str(in[1].shape));
    n_ = x[0];
    spatial_ = 1;
    for (size_t i = 2; i < x.size(); ++i) spatial_ *= x[i];
    out[0] = in[0];
  }
  int inplace_input() const override { return 0; }
  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const float* x = static_cast<const float*>(in[0]);
    const float* scale = static_cast<const float*>(in[1]);
    const float* bias = static_cast<const float*>(in[2]);
    float* y = static_cast<float*>(out[0]);
    const int64_t cg = c_ / groups_, block = cg * spatial_;
    parallel(ctx, size_t(n_ * groups_), 1, [&](size_t b0, size_t b1, int) {
      for (size_t b = b0; b < b1; ++b) {
        const float* xb = x + b * size_t(block);
        double s = 0, ss = 0;
        for (int64_t i = 0; i < block; ++i) s += xb[i];
        const double mean = block ? s / double(block) : 0.0;
        for (int64_t i = 0; i < block; ++i) ss += (xb[i] - mean) * (xb[i] - mean);
        const double rstd = 1.0 / std::sqrt((block ? ss / double(block) : 0.0) + double(eps_));
        const int64_t g = int64_t(b) % groups_;
        float* yb = y + b * size_t(block);
        for (int64_t c = 0; c < cg; ++c) {
          const int64_t p = per_group_ ? g : g * cg + c;  // where this channel's scale and bias are
          const float a = float(double(scale[p]) * rstd);
          const float sh = float(double(bias[p]) - mean * double(a));
          const float* xc = xb + c * spatial_;
          float* yc = yb + c * spatial_;
          for (int64_t i = 0; i < spatial_; ++i) yc[i] = xc[i] * a + sh;
        }
      }
    });
  }
  std::string kernel() const override { return "group-norm-ref"; }

 private:
  float eps_;
  int64_t groups_ = 1, c_ = 1, n_ = 0, spatial_ = 1;
  bool per_group_ = false;
};

}  // namespace

std::unique_ptr<Op> make_group_norm(const NodeContext& ctx) { return std::make_unique<GroupNorm>(ctx); }

}  // namespace pyrt::ops
