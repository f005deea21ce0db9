// MaxPool and AveragePool (2-D, NCHW): kernel_shape, strides, pads (asymmetric), dilations (max), ceil_mode,
// count_include_pad (average).
#include <algorithm>
#include <cfloat>

#include "ops/common.h"

namespace pyrt::ops {
namespace {

class Pool final : public Op {
 public:
  explicit Pool(const NodeContext& ctx) {
    ctx.expect_inputs(1, 1);
    max_ = ctx.node().op_type == "MaxPool";
    if (ctx.num_outputs() != 1) ctx.fail("only the first output (values) is supported");
    k_ = ctx.attr_ints("kernel_shape");
    if (k_.size() != 2) ctx.fail("kernel_shape must have 2 values (2-D pooling)");
    s_ = ctx.attr_ints("strides", {1, 1});
    p_ = ctx.attr_ints("pads", {0, 0, 0, 0});
    d_ = ctx.attr_ints("dilations", {1, 1});
    ceil_ = ctx.attr_int("ceil_mode", 0) != 0;
    include_pad_ = ctx.attr_int("count_include_pad", 0) != 0;
    if (ctx.attr_string("auto_pad", "NOTSET") != "NOTSET") ctx.fail("auto_pad is not supported; use explicit pads");
    if (s_.size() != 2 || p_.size() != 4 || d_.size() != 2) ctx.fail("strides/pads/dilations must have 2/4/2 values");
    for (int64_t v : {k_[0], k_[1], s_[0], s_[1], d_[0], d_[1]})
      if (v < 1) ctx.fail("kernel, strides and dilations must be >= 1");
  }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    require_f32(*this, in[0], "input");
    const Shape& x = in[0].shape;
    if (x.size() != 4) fail("input must be 4-D NCHW, got " + shape_str(x));
    nc_ = x[0] * x[1], h_ = x[2], w_ = x[3];
    auto osz = [&](int64_t in, int64_t k, int64_t s, int64_t d, int64_t pa, int64_t pb) {
      const int64_t span = in + pa + pb - ((k - 1) * d + 1);
      if (span < 0) fail("pooling window larger than the padded input " + shape_str(x));
      int64_t o = (ceil_ ? (span + s - 1) / s : span / s) + 1;
      if (ceil_ && (o - 1) * s >= in + pa) --o;  // the last window must start inside the input or left pad
      return o;
    };
    oh_ = osz(h_, k_[0], s_[0], d_[0], p_[0], p_[2]);
    ow_ = osz(w_, k_[1], s_[1], d_[1], p_[1], p_[3]);
    out[0] = {{x[0], x[1], oh_, ow_}, spec::kF32};
  }
  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const float* x = static_cast<const float*>(in[0]);
    float* y = static_cast<float*>(out[0]);
    parallel(ctx, size_t(nc_), 1, [&](size_t b, size_t e, int) {
      for (size_t c = b; c < e; ++c) {
        const float* xc = x + c * size_t(h_ * w_);
        float* yc = y + c * size_t(oh_ * ow_);
        for (int64_t oh = 0; oh < oh_; ++oh)
          for (int64_t ow = 0; ow < ow_; ++ow) {
            float acc = max_ ? -FLT_MAX : 0.f;
            int64_t cnt = 0;
            const int64_t h0 = oh * s_[0] - p_[0], w0 = ow * s_[1] - p_[1];
            for (int64_t i = 0; i < k_[0]; ++i) {
              const int64_t ih = h0 + i * d_[0];
              for (int64_t j = 0; j < k_[1]; ++j) {
                const int64_t iw = w0 + j * d_[1];
                if (ih < 0 || ih >= h_ || iw < 0 || iw >= w_) continue;
                const float v = xc[ih * w_ + iw];
                acc = max_ ? std::max(acc, v) : acc + v;
                ++cnt;
              }
            }
            if (!max_) {
              int64_t denom = cnt;
              if (include_pad_) {  // window clipped to the padded input (not to ceil-mode overhang)
                const int64_t he = std::min(h0 + k_[0], h_ + p_[2]), we = std::min(w0 + k_[1], w_ + p_[3]);
                denom = (he - h0) * (we - w0);
              }
              acc = denom ? acc / float(denom) : 0.f;
            }
            yc[oh * ow_ + ow] = acc;
          }
      }
    });
  }
  std::string kernel() const override { return max_ ? "maxpool-direct" : "avgpool-direct"; }

 private:
  bool max_, ceil_, include_pad_;
  std::vector<int64_t> k_, s_, p_, d_;
  int64_t nc_ = 0, h_ = 0, w_ = 0, oh_ = 0, ow_ = 0;
};

// GlobalAveragePool / GlobalMaxPool: one value per (n, c) over all spatial positions.
class GlobalPool final : public Op {
 public:
  explicit GlobalPool(const NodeContext& ctx) : max_(ctx.node().op_type == "GlobalMaxPool") { ctx.expect_inputs(1, 1); }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    require_f32(*this, in[0], "input");
    const Shape& x = in[0].shape;
    if (x.size() < 3) fail("input must be N x C x spatial..., got " + shape_str(x));
    nc_ = x[0] * x[1];
    hw_ = numel(x) / std::max<int64_t>(nc_, 1);
    Shape o = x;
    for (size_t i = 2; i < o.size(); ++i) o[i] = 1;
    out[0] = {o, spec::kF32};
  }
  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const float* x = static_cast<const float*>(in[0]);
    float* y = static_cast<float*>(out[0]);
    parallel(ctx, size_t(nc_), 8, [&](size_t b, size_t e, int) {
      for (size_t c = b; c < e; ++c) {
        const float* xc = x + c * size_t(hw_);
        float acc = max_ ? -FLT_MAX : 0.f;
        for (int64_t i = 0; i < hw_; ++i) acc = max_ ? std::max(acc, xc[i]) : acc + xc[i];
        y[c] = max_ ? acc : acc / float(std::max<int64_t>(hw_, 1));
      }
    });
  }
  std::string kernel() const override { return "globalpool-direct"; }

 private:
  bool max_;
  int64_t nc_ = 0, hw_ = 0;
};

}  // namespace

std::unique_ptr<Op> make_pool(const NodeContext& ctx) { return std::make_unique<Pool>(ctx); }
std::unique_ptr<Op> make_global_pool(const NodeContext& ctx) { return std::make_unique<GlobalPool>(ctx); }

}  // namespace pyrt::ops
