// LpPool (ONNX 18): (sum over each window of |x|^p)^(1/p), on N x C x spatial (1 to 3 spatial dims). Attributes
// kernel_shape, strides, pads, dilations, auto_pad (NOTSET, VALID, SAME_UPPER, SAME_LOWER), ceil_mode, p.
// Padding contributes zeros. f32.
#include <algorithm>
#include <cmath>

#include "ops/common.h"

namespace pyrt::ops {
namespace {

class LpPool final : public Op {
 public:
  explicit LpPool(const NodeContext& ctx) {
    ctx.expect_inputs(1, 1);
    k_ = ctx.attr_ints("kernel_shape");
    const size_t r = k_.size();
    if (r < 1 || r > 3) ctx.fail("kernel_shape must have 1 to 3 values");
    s_ = ctx.attr_ints("strides", std::vector<int64_t>(r, 1));
    d_ = ctx.attr_ints("dilations", std::vector<int64_t>(r, 1));
    pads_ = ctx.attr_ints("pads", std::vector<int64_t>(2 * r, 0));
    if (s_.size() != r || d_.size() != r || pads_.size() != 2 * r)
      ctx.fail("strides, dilations and pads must match kernel_shape's rank");
    for (size_t i = 0; i < r; ++i) {
      if (k_[i] < 1 || k_[i] > kMaxWindow || s_[i] < 1 || s_[i] > kMaxWindow || d_[i] < 1 || d_[i] > kMaxWindow)
        ctx.fail("kernel_shape, strides and dilations must be in [1, 2^20]");
      if (pads_[i] < 0 || pads_[i] > kMaxWindow || pads_[i + r] < 0 || pads_[i + r] > kMaxWindow)
        ctx.fail("pads must be in [0, 2^20]");
    }
    auto_pad_ = ctx.attr_string("auto_pad", "NOTSET");
    if (auto_pad_ != "NOTSET" && auto_pad_ != "VALID" && auto_pad_ != "SAME_UPPER" && auto_pad_ != "SAME_LOWER")
      ctx.fail("unsupported auto_pad '" + auto_pad_ + "'");
    ceil_ = ctx.attr_int("ceil_mode", 0) != 0;
    p_ = ctx.attr_int("p", 2);
    if (p_ < 1 || p_ > 64) ctx.fail("p must be in [1, 64], got " + std::to_string(p_));
  }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    require_f32(*this, in[0], "input");
    const size_t r = k_.size();
    if (in[0].shape.size() != r + 2)
      fail("input " + shape_str(in[0].shape) + " must be N x C and " + std::to_string(r) + " spatial dims");
    in_ = in[0].shape;
    out_ = in_;
    begin_.assign(r, 0);
    for (size_t i = 0; i < r; ++i) {
      const int64_t n = in_[i + 2], span = (k_[i] - 1) * d_[i] + 1;
      int64_t o;
      if (auto_pad_ == "SAME_UPPER" || auto_pad_ == "SAME_LOWER") {
        o = (n + s_[i] - 1) / s_[i];
        const int64_t total = std::max<int64_t>(0, (o - 1) * s_[i] + span - n);
        begin_[i] = auto_pad_ == "SAME_UPPER" ? total / 2 : total - total / 2;
      } else {
        const int64_t pb = auto_pad_ == "VALID" ? 0 : pads_[i], pe = auto_pad_ == "VALID" ? 0 : pads_[i + r];
        const int64_t room = n + pb + pe - span;
        if (room < 0) fail("the window is larger than the padded input " + shape_str(in_));
        o = (ceil_ ? (room + s_[i] - 1) / s_[i] : room / s_[i]) + 1;
        if (ceil_ && (o - 1) * s_[i] >= n + pb) --o;  // the last window must start inside the input or its front pad
        begin_[i] = pb;
      }
      out_[i + 2] = o;
    }
    out[0] = {out_, spec::kF32};
  }
  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const float* x = static_cast<const float*>(in[0]);
    float* y = static_cast<float*>(out[0]);
    const size_t r = k_.size();
    // pad the spatial rank to 3 so one loop nest serves 1-D to 3-D
    int64_t n[3] = {1, 1, 1}, o[3] = {1, 1, 1}, k[3] = {1, 1, 1}, s[3] = {1, 1, 1}, d[3] = {1, 1, 1}, b[3] = {0, 0, 0};
    for (size_t i = 0; i < r; ++i) {
      const size_t j = 3 - r + i;
      n[j] = in_[i + 2], o[j] = out_[i + 2], k[j] = k_[i], s[j] = s_[i], d[j] = d_[i], b[j] = begin_[i];
    }
    const int64_t planes = in_[0] * in_[1], isz = n[0] * n[1] * n[2];
    const double p = double(p_);
    for (int64_t c = 0; c < planes; ++c) {
      const float* xp = x + c * isz;
      for (int64_t z = 0; z < o[0]; ++z)
        for (int64_t h = 0; h < o[1]; ++h)
          for (int64_t w = 0; w < o[2]; ++w) {
            double acc = 0;
            for (int64_t a = 0; a < k[0]; ++a) {
              const int64_t iz = z * s[0] - b[0] + a * d[0];
              if (iz < 0 || iz >= n[0]) continue;
              for (int64_t e = 0; e < k[1]; ++e) {
                const int64_t ih = h * s[1] - b[1] + e * d[1];
                if (ih < 0 || ih >= n[1]) continue;
                for (int64_t f = 0; f < k[2]; ++f) {
                  const int64_t iw = w * s[2] - b[2] + f * d[2];
                  if (iw < 0 || iw >= n[2]) continue;
                  const double v = std::fabs(double(xp[(iz * n[1] + ih) * n[2] + iw]));
                  acc += p_ == 1 ? v : p_ == 2 ? v * v : std::pow(v, p);
                }
              }
            }
            *y++ = float(p_ == 1 ? acc : p_ == 2 ? std::sqrt(acc) : std::pow(acc, 1.0 / p));
          }
    }
  }
  std::string kernel() const override { return "lppool-ref"; }

 private:
  std::vector<int64_t> k_, s_, d_, pads_, begin_;
  std::string auto_pad_;
  bool ceil_ = false;
  int64_t p_ = 2;
  Shape in_, out_;
};

}  // namespace

std::unique_ptr<Op> make_lp_pool(const NodeContext& ctx) { return std::make_unique<LpPool>(ctx); }

}  // namespace pyrt::ops
