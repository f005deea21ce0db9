// Resize / Upsample of the two spatial dims of NCHW tensors: nearest (floor, round_prefer_floor,
// round_prefer_ceil, ceil), bilinear or bicubic, with the ONNX coordinate transforms half_pixel, pytorch_half_pixel,
// asymmetric and align_corners. Scales or sizes come from constant inputs (or the opset-9 Upsample input).
#include <algorithm>
#include <cmath>

#include "ops/common.h"

namespace pyrt::ops {
namespace {

class Resize final : public Op {
 public:
  explicit Resize(const NodeContext& ctx) {
    const bool upsample = ctx.node().op_type == "Upsample";
    mode_ = ctx.attr_string("mode", "nearest");
    if (mode_ == "bilinear") mode_ = "linear";
    if (mode_ != "nearest" && mode_ != "linear" && mode_ != "cubic")
      ctx.fail("unsupported mode '" + mode_ + "' (nearest, linear, cubic)");
    cubic_a_ = ctx.attr_float("cubic_coeff_a", -0.75f);
    exclude_outside_ = ctx.attr_int("exclude_outside", 0) != 0;
    coord_ = ctx.attr_string("coordinate_transformation_mode", upsample ? "asymmetric" : "half_pixel");
    nearest_ = ctx.attr_string("nearest_mode", upsample ? "floor" : "round_prefer_floor");
    if (coord_ != "half_pixel" && coord_ != "pytorch_half_pixel" && coord_ != "asymmetric" && coord_ != "align_corners" &&
        coord_ != "half_pixel_symmetric")
      ctx.fail("unsupported coordinate_transformation_mode '" + coord_ + "'");
    if (ctx.attr_int("antialias", 0) != 0) ctx.fail("antialias is not supported");
    if (ctx.attr_string("keep_aspect_ratio_policy", "stretch") != "stretch")
      ctx.fail("keep_aspect_ratio_policy other than 'stretch' is not supported");
    axes_ = ctx.attr_ints("axes");
    // Scales or sizes: constant inputs, or values computed from shapes when the plan is made (read in infer).
    scales_at_ = upsample ? 1 : 2;
    has_scales_ = ctx.has_input(scales_at_);
    has_sizes_ = !upsample && ctx.has_input(3);
    if (!has_scales_ && !has_sizes_) {
      if (!ctx.attr("scales")) ctx.fail("needs scales or sizes");
      scales_ = ctx.attr_floats("scales");
    }
  }
  bool plan_input(size_t i) const override { return i == scales_at_ || i == 3; }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    require_f32(*this, in[0], "input");
    if (has_scales_ || has_sizes_) {
      scales_.clear(), sizes_.clear();
      if (has_scales_ && in[scales_at_].numel() > 0) scales_ = plan_floats(*this, in[scales_at_], "scales");
      else if (has_sizes_) sizes_ = plan_ints(*this, in[3], "sizes");
      else fail("needs scales or sizes (the scales input is empty)");
    }
    const Shape& x = in[0].shape;
    if (x.size() != 4) fail("input must be 4-D NCHW, got " + shape_str(x));
    if (!axes_.empty()) {  // scales / sizes for these axes only: the others keep their size
      std::vector<float> sc(4, 1.f);
      std::vector<int64_t> sz(x.begin(), x.end());
      const size_t given = scales_.empty() ? sizes_.size() : scales_.size();
      if (given != axes_.size()) fail("axes has " + std::to_string(axes_.size()) + " entries for " + std::to_string(given) + " scales or sizes");
      for (size_t k = 0; k < axes_.size(); ++k) {
        const size_t a = size_t(norm_axis(*this, axes_[k], 4));
        if (scales_.empty()) sz[a] = sizes_[k];
        else sc[a] = scales_[k];
      }
      if (scales_.empty()) sizes_ = sz;
      else scales_ = sc;
    }
    Shape o = x;
    if (!sizes_.empty()) {
      if (sizes_.size() != 4 || sizes_[0] != x[0] || sizes_[1] != x[1]) fail("sizes must be [N, C, H, W] of the input");
      o = sizes_;
      sh_ = float(o[2]) / float(x[2]), sw_ = float(o[3]) / float(x[3]);
      lh_ = float(o[2]), lw_ = float(o[3]);
    } else {
      if (scales_.size() != 4 || scales_[0] != 1.f || scales_[1] != 1.f) fail("scales must be [1, 1, sh, sw]");
      sh_ = scales_[2], sw_ = scales_[3];
      if (!(sh_ > 0.f && sh_ <= float(kMaxWindow) && sw_ > 0.f && sw_ <= float(kMaxWindow)))
        fail("scales must be positive and finite");
      o[2] = int64_t(std::floor(float(x[2]) * sh_));
      o[3] = int64_t(std::floor(float(x[3]) * sw_));
      lh_ = float(x[2]) * sh_, lw_ = float(x[3]) * sw_;  // ONNX aligns corners on the unrounded size
    }
    nc_ = x[0] * x[1], h_ = x[2], w_ = x[3], oh_ = o[2], ow_ = o[3];
    if ((h_ == 0 && oh_ > 0) || (w_ == 0 && ow_ > 0)) fail("cannot resize an empty spatial dimension to a non-empty one");
    out[0] = {o, spec::kF32};
  }
  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const float* x = static_cast<const float*>(in[0]);
    float* y = static_cast<float*>(out[0]);
    if (mode_ == "cubic") return run_cubic(ctx, x, y);
    parallel(ctx, size_t(nc_), 1, [&](size_t b, size_t e, int) {
      for (size_t c = b; c < e; ++c) {
        const float* xc = x + c * size_t(h_ * w_);
        float* yc = y + c * size_t(oh_ * ow_);
        for (int64_t oy = 0; oy < oh_; ++oy) {
          const float fy = coord(oy, sh_, h_, oh_, lh_);
          for (int64_t ox = 0; ox < ow_; ++ox) {
            const float fx = coord(ox, sw_, w_, ow_, lw_);
            if (mode_ == "nearest") {
              yc[oy * ow_ + ox] = xc[near(fy, h_) * w_ + near(fx, w_)];
            } else {
              const float cy = std::clamp(fy, 0.f, float(h_ - 1)), cx = std::clamp(fx, 0.f, float(w_ - 1));
              const int64_t y0 = int64_t(std::floor(cy)), x0 = int64_t(std::floor(cx));
              const int64_t y1 = std::min(y0 + 1, h_ - 1), x1 = std::min(x0 + 1, w_ - 1);
              const float dy = cy - float(y0), dx = cx - float(x0);
              const float top = xc[y0 * w_ + x0] * (1 - dx) + xc[y0 * w_ + x1] * dx;
              const float bot = xc[y1 * w_ + x0] * (1 - dx) + xc[y1 * w_ + x1] * dx;
              yc[oy * ow_ + ox] = top * (1 - dy) + bot * dy;
            }
          }
        }
      }
    });
  }
  std::string kernel() const override { return "resize-" + mode_; }

 private:
  // Cubic convolution (Keys, coefficient a): four taps per axis, separable. Taps outside the input read the
  // edge, or with exclude_outside get weight 0 and the others are renormalized (ONNX).
  struct Taps {
    int64_t at[4];
    float w[4];
  };
  std::vector<Taps> cubic_taps(float scale, int64_t in, int64_t out, float len) const {
    std::vector<Taps> t(static_cast<size_t>(out));
    const float a = cubic_a_;
    auto kernel = [a](float d) {
      d = std::fabs(d);
      if (d <= 1.f) return ((a + 2.f) * d - (a + 3.f)) * d * d + 1.f;
      if (d < 2.f) return ((a * d - 5.f * a) * d + 8.f * a) * d - 4.f * a;
      return 0.f;
    };
    for (int64_t o = 0; o < out; ++o) {
      const float f = coord(o, scale, in, out, len);
      const float base = std::floor(f), frac = f - base;
      float sum = 0.f;
      for (int k = 0; k < 4; ++k) {
        const int64_t i = int64_t(base) + k - 1;
        float w = kernel(frac - float(k - 1));
        if (exclude_outside_ && (i < 0 || i >= in)) w = 0.f;
        t[size_t(o)].at[k] = std::clamp<int64_t>(i, 0, in - 1);
        t[size_t(o)].w[k] = w;
        sum += w;
      }
      if (exclude_outside_ && sum != 0.f)
        for (float& w : t[size_t(o)].w) w /= sum;
    }
    return t;
  }
  void run_cubic(const RunContext& ctx, const float* x, float* y) const {
    if (oh_ == 0 || ow_ == 0) return;
    const std::vector<Taps> ty = cubic_taps(sh_, h_, oh_, lh_), tx = cubic_taps(sw_, w_, ow_, lw_);
    parallel(ctx, size_t(nc_), 1, [&](size_t b, size_t e, int) {
      std::vector<float> rows(size_t(4 * ow_));
      for (size_t c = b; c < e; ++c) {
        const float* xc = x + c * size_t(h_ * w_);
        float* yc = y + c * size_t(oh_ * ow_);
        for (int64_t oy = 0; oy < oh_; ++oy) {
          const Taps& vy = ty[size_t(oy)];
          for (int k = 0; k < 4; ++k) {  // the four input rows, resampled along x
            const float* row = xc + vy.at[k] * w_;
            for (int64_t ox = 0; ox < ow_; ++ox) {
              const Taps& vx = tx[size_t(ox)];
              rows[size_t(k * ow_ + ox)] = vx.w[0] * row[vx.at[0]] + vx.w[1] * row[vx.at[1]] +
                                           vx.w[2] * row[vx.at[2]] + vx.w[3] * row[vx.at[3]];
            }
          }
          for (int64_t ox = 0; ox < ow_; ++ox)
            yc[oy * ow_ + ox] = vy.w[0] * rows[size_t(ox)] + vy.w[1] * rows[size_t(ow_ + ox)] +
                                vy.w[2] * rows[size_t(2 * ow_ + ox)] + vy.w[3] * rows[size_t(3 * ow_ + ox)];
        }
      }
    });
  }

  // The input coordinate of output index o (ONNX's coordinate_transformation_mode); `len` is the output length
  // before rounding (in * scale), `out` after.
  float coord(int64_t o, float scale, int64_t in, int64_t out, float len) const {
    if (coord_ == "asymmetric") return float(o) / scale;
    if (coord_ == "align_corners") return len > 1.f ? float(o) * float(in - 1) / (len - 1.f) : 0.f;
    if (coord_ == "pytorch_half_pixel") return out > 1 ? (float(o) + 0.5f) / scale - 0.5f : 0.f;
    if (coord_ == "half_pixel_symmetric") {
      const float center = float(in) / 2.f, adjust = float(out) / len;
      return center * (1.f - adjust) + (float(o) + 0.5f) / scale - 0.5f;
    }
    return (float(o) + 0.5f) / scale - 0.5f;  // half_pixel
  }
  int64_t near(float f, int64_t n) const {
    int64_t i;
    if (nearest_ == "floor") i = int64_t(std::floor(f));
    else if (nearest_ == "ceil") i = int64_t(std::ceil(f));
    else if (nearest_ == "round_prefer_ceil") i = int64_t(std::floor(f + 0.5f));
    else i = int64_t(std::ceil(f - 0.5f));  // round_prefer_floor
    return std::clamp<int64_t>(i, 0, n - 1);
  }

  std::string mode_, coord_, nearest_;
  std::vector<float> scales_;
  size_t scales_at_ = 2;
  bool has_scales_ = false, has_sizes_ = false;
  std::vector<int64_t> sizes_;
  std::vector<int64_t> axes_;
  float cubic_a_ = -0.75f;
  bool exclude_outside_ = false;
  float sh_ = 1, sw_ = 1, lh_ = 1, lw_ = 1;
  int64_t nc_ = 0, h_ = 0, w_ = 0, oh_ = 0, ow_ = 0;
};

}  // namespace

std::unique_ptr<Op> make_resize(const NodeContext& ctx) { return std::make_unique<Resize>(ctx); }

}  // namespace pyrt::ops
