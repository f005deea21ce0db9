// MaxPool and AveragePool 3-D (NCDHW; the registry sends them here when kernel_shape has 3 values):
// strides, explicit pads (asymmetric) or VALID, dilations, ceil_mode, count_include_pad (average). f32.
// A plain loop per output voxel over its taps, (n, c) volumes split over threads: 3-D pooling is rare and
// memory-bound, and the separable row trick of the 2-D op would need a scratch plane per thread.
// The average's divisor: the taps inside the input, or with count_include_pad the taps inside the padded
// input (so not ceil-mode overhang), as ONNX's reference computes it.
#include <algorithm>
#include <cfloat>

#include "ops/window3d.h"

namespace pyrt::ops {
namespace {

class Pool3D final : public Op {
 public:
  explicit Pool3D(const NodeContext& ctx) {
    ctx.expect_inputs(1, 1);
    max_ = ctx.node().op_type == "MaxPool";
    if (ctx.num_outputs() != 1) ctx.fail("only the first output (values) is supported");
    if (!ctx.attr("kernel_shape")) ctx.fail("the attribute kernel_shape is required");
    win_ = window3(ctx, {});
    ceil_ = ctx.attr_int("ceil_mode", 0) != 0;
    include_pad_ = ctx.attr_int("count_include_pad", 0) != 0;
  }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    require_f32(*this, in[0], "input");
    const Shape& x = in[0].shape;
    if (x.size() != 5) fail("input must be 5-D NCDHW for a 3-D kernel_shape, got " + shape_str(x));
    nc_ = x[0] * x[1];
    for (int i = 0; i < 3; ++i) {
      in_[i] = x[size_t(2 + i)];
      out_[i] = window_out(in_[i], win_.k[i], win_.s[i], win_.d[i], win_.p[i], win_.p[i + 3], ceil_);
      if (out_[i] < 1)
        fail("the pooling window is larger than the padded input " + shape_str(x) + " along dimension " +
             std::to_string(2 + i));
    }
    out[0] = {{x[0], x[1], out_[0], out_[1], out_[2]}, spec::kF32};
  }
  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const float* x = static_cast<const float*>(in[0]);
    float* y = static_cast<float*>(out[0]);
    const int64_t D = in_[0], H = in_[1], W = in_[2], OD = out_[0], OH = out_[1], OW = out_[2];
    const size_t V = size_t(D * H * W), OV = size_t(OD * OH * OW);
    // the taps of one window along one dimension that fall inside [lo, hi)
    auto taps = [&](int i, int64_t o, int64_t lo, int64_t hi, int64_t& first, int64_t& count) {
      const int64_t s0 = o * win_.s[size_t(i)] - win_.p[size_t(i)], d = win_.d[size_t(i)];
      first = 0, count = 0;
      for (int64_t t = 0; t < win_.k[size_t(i)]; ++t) {
        const int64_t at = s0 + t * d;
        if (at < lo || at >= hi) continue;
        if (count++ == 0) first = t;
      }
      return s0;
    };
    parallel(ctx, size_t(nc_), 1, [&](size_t b, size_t e, int) {
      for (size_t c = b; c < e; ++c) {
        const float* xc = x + c * V;
        float* yc = y + c * OV;
        for (int64_t od = 0; od < OD; ++od) {
          int64_t fd, cd, pfd, pcd;
          const int64_t d0 = taps(0, od, 0, D, fd, cd);
          taps(0, od, -win_.p[0], D + win_.p[3], pfd, pcd);
          for (int64_t oh = 0; oh < OH; ++oh) {
            int64_t fh, ch, pfh, pch;
            const int64_t h0 = taps(1, oh, 0, H, fh, ch);
            taps(1, oh, -win_.p[1], H + win_.p[4], pfh, pch);
            for (int64_t ow = 0; ow < OW; ++ow) {
              int64_t fw, cw, pfw, pcw;
              const int64_t w0 = taps(2, ow, 0, W, fw, cw);
              taps(2, ow, -win_.p[2], W + win_.p[5], pfw, pcw);
              // taps inside the input are contiguous in tap index (the window is monotonic), from f*, c* of them
              float acc = max_ ? -FLT_MAX : 0.f;
              for (int64_t a = fd; a < fd + cd; ++a) {
                const float* xd = xc + (d0 + a * win_.d[0]) * H * W;
                for (int64_t bh = fh; bh < fh + ch; ++bh) {
                  const float* xr = xd + (h0 + bh * win_.d[1]) * W + w0;
                  if (max_)
                    for (int64_t t = fw; t < fw + cw; ++t) acc = std::max(acc, xr[t * win_.d[2]]);
                  else
                    for (int64_t t = fw; t < fw + cw; ++t) acc += xr[t * win_.d[2]];
                }
              }
              if (!max_) {
                const int64_t denom = include_pad_ ? pcd * pch * pcw : cd * ch * cw;
                acc = denom ? acc / float(denom) : 0.f;
              }
              yc[(od * OH + oh) * OW + ow] = acc;
            }
          }
        }
      }
    });
  }
  std::string kernel() const override { return max_ ? "maxpool3d-direct" : "avgpool3d-direct"; }

 private:
  bool max_, ceil_, include_pad_;
  Window3 win_;
  int64_t nc_ = 0, in_[3] = {0, 0, 0}, out_[3] = {0, 0, 0};
};

}  // namespace

std::unique_ptr<Op> make_pool3d(const NodeContext& ctx) { return std::make_unique<Pool3D>(ctx); }

}  // namespace pyrt::ops
