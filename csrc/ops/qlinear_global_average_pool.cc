// QLinearGlobalAveragePool (ONNX Runtime's com.microsoft op): u8 -> u8 mean over the spatial axes of a 4-D
// tensor, y = requant(sum - HW * zx) with scale x_scale / (HW * y_scale). Attribute `layout`: "NCHW" (default)
// or "NHWC" (ours; ORT's spells it channels_last=1, also accepted).
// Inputs: X, x_scale, x_zero_point, y_scale, y_zero_point.
#include "ops/quant_common.h"

namespace pyrt::ops {
namespace {

class QLinearGlobalAveragePool final : public Op {
 public:
  explicit QLinearGlobalAveragePool(const NodeContext& ctx) {
    ctx.expect_inputs(4, 5);
    xq_ = qparams(ctx, 1, 2, "x");
    yq_ = qparams(ctx, 3, 4, "y");
    const std::string layout = ctx.attr_string("layout", ctx.attr_int("channels_last", 0) ? "NHWC" : "NCHW");
    if (layout != "NCHW" && layout != "NHWC") ctx.fail("layout must be NCHW or NHWC, got '" + layout + "'");
    nhwc_ = layout == "NHWC";
    rq_ = {-float(yq_.zp), float(255 - yq_.zp), yq_.zp, false};
  }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    require_u8(*this, in[0], "X");
    const Shape& x = in[0].shape;
    if (x.size() != 4) fail("X must be 4-D, got " + shape_str(x));
    n_ = x[0], c_ = nhwc_ ? x[3] : x[1], hw_ = nhwc_ ? x[1] * x[2] : x[2] * x[3];
    if (hw_ == 0) fail("X has an empty spatial extent " + shape_str(x));
    out[0] = {nhwc_ ? Shape{n_, 1, 1, c_} : Shape{n_, c_, 1, 1}, spec::kU8};
    scale_ = float(double(xq_.scale) / (double(hw_) * yq_.scale));
  }
  size_t workspace_bytes(const std::vector<TensorDesc>&, const std::vector<TensorDesc>&, int threads) const override {
    return nhwc_ ? size_t(threads) * align64(size_t(c_) * 4) : 0;
  }
  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const uint8_t* x = static_cast<const uint8_t*>(in[0]);
    uint8_t* y = static_cast<uint8_t*>(out[0]);
    const int32_t bias = -int32_t(hw_) * xq_.zp;  // hw_ * 255 fits int32 for any hw_ < 2^23
    if (nhwc_) {
      parallel(ctx, size_t(n_), 1, [&](size_t b, size_t e, int t) {
        int32_t* acc = static_cast<int32_t*>(ctx.workspace) + size_t(t) * align64(size_t(c_) * 4) / 4;
        for (size_t n = b; n < e; ++n) {
          std::fill(acc, acc + c_, bias);
          const uint8_t* xn = x + n * size_t(hw_ * c_);
          for (int64_t p = 0; p < hw_; ++p)
            for (int64_t c = 0; c < c_; ++c) acc[c] += xn[p * c_ + c];
          for (int64_t c = 0; c < c_; ++c) y[n * size_t(c_) + size_t(c)] = kernels::requant_one(acc[c], scale_, rq_);
        }
      });
      return;
    }
    parallel(ctx, size_t(n_ * c_), 16, [&](size_t b, size_t e, int) {
      for (size_t nc = b; nc < e; ++nc) {
        int32_t acc = bias;
        for (int64_t p = 0; p < hw_; ++p) acc += x[nc * size_t(hw_) + size_t(p)];
        y[nc] = kernels::requant_one(acc, scale_, rq_);
      }
    });
  }

 private:
  kernels::QParams xq_{}, yq_{};
  kernels::QRequant rq_{};
  bool nhwc_ = false;
  float scale_ = 0.f;
  int64_t n_ = 0, c_ = 0, hw_ = 0;
};

}  // namespace

std::unique_ptr<Op> make_qlinear_global_average_pool(const NodeContext& ctx) {
  return std::make_unique<QLinearGlobalAveragePool>(ctx);
}

}  // namespace pyrt::ops
