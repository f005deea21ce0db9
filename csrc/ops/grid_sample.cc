// GridSample (ONNX 16 / 20), 2-D and 3-D: X [N, C, H, W] sampled at grid [N, Ho, Wo, 2] (x then y, normalized
// to [-1, 1]), or X [N, C, D, H, W] at grid [N, Do, Ho, Wo, 3] (x, y, z); mode linear / bilinear, nearest (ties to even, as PyTorch), cubic / bicubic (Keys, a = -0.75);
// padding_mode zeros, border or reflection; align_corners. Separable per axis, as ONNX's reference: a tap's
// row and column are each mapped by the padding mode on their own. f32.
#include <cmath>

#include "ops/common.h"

namespace pyrt::ops {
namespace {

enum Mode { kLinear, kNearest, kCubic };
enum Padding { kZeros, kBorder, kReflection };

class GridSample final : public Op {
 public:
  explicit GridSample(const NodeContext& ctx) {
    ctx.expect_inputs(2, 2);
    const std::string m = ctx.attr_string("mode", "linear"), p = ctx.attr_string("padding_mode", "zeros");
    if (m == "linear" || m == "bilinear") mode_ = kLinear;
    else if (m == "nearest") mode_ = kNearest;
    else if (m == "cubic" || m == "bicubic") mode_ = kCubic;
    else ctx.fail("unsupported mode '" + m + "'");
    if (p == "zeros") pad_ = kZeros;
    else if (p == "border") pad_ = kBorder;
    else if (p == "reflection") pad_ = kReflection;
    else ctx.fail("unsupported padding_mode '" + p + "'");
    align_ = ctx.attr_int("align_corners", 0) != 0;
  }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    require_f32(*this, in[0], "X");
    require_f32(*this, in[1], "grid");
    const Shape& x = in[0].shape;
    const Shape& g = in[1].shape;
    if (x.size() != 4 && x.size() != 5) fail("X must be [N, C, H, W] or [N, C, D, H, W], got " + shape_str(x));
    const size_t r = x.size() - 2;
    if (g.size() != r + 2 || g[0] != x[0] || g[r + 1] != int64_t(r))
      fail("grid must be [N, *output_spatial, " + std::to_string(r) + "], got " + shape_str(g));
    x_ = x, g_ = g;
    Shape o{x[0], x[1]};
    for (size_t i = 1; i <= r; ++i) o.push_back(g[i]);
    out[0] = {o, spec::kF32};
  }
  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const float* x = static_cast<const float*>(in[0]);
    const float* grid = static_cast<const float*>(in[1]);
    float* y = static_cast<float*>(out[0]);
    const size_t r = x_.size() - 2;
    const int64_t N = x_[0], C = x_[1];
    int64_t isz = 1, osz = 1;
    for (size_t i = 0; i < r; ++i) isz *= x_[i + 2], osz *= g_[i + 1];
    const int taps = mode_ == kNearest ? 1 : mode_ == kLinear ? 2 : 4;
    int combos = 1;
    for (size_t i = 0; i < r; ++i) combos *= taps;
    int64_t idx[3][4];
    float w[3][4];
    for (int64_t n = 0; n < N; ++n)
      for (int64_t o = 0; o < osz; ++o) {
        const float* gp = grid + (n * osz + o) * int64_t(r);
        for (size_t i = 0; i < r; ++i) {  // the grid lists the coordinates innermost dimension first
          const int64_t len = x_[i + 2];
          weights(coord(gp[r - 1 - i], len), len, idx[i], w[i]);
        }
        for (int64_t c = 0; c < C; ++c) {
          const float* xp = x + (n * C + c) * isz;
          float acc = 0.f;
          for (int k = 0; k < combos; ++k) {  // every tap combination, the weights multiplied (separable)
            float wt = 1.f;
            int64_t at = 0;
            for (size_t i = 0, t = size_t(k); i < r; ++i, t /= size_t(taps)) {
              const size_t j = r - 1 - i, q = t % size_t(taps);
              if (idx[j][q] < 0) { wt = 0.f; break; }  // a zero-padding tap
              wt *= w[j][q];
            }
            if (wt == 0.f) continue;
            for (size_t i = 0, t = size_t(k), m = 1; i < r; ++i, t /= size_t(taps)) {
              const size_t j = r - 1 - i;
              at += idx[j][t % size_t(taps)] * int64_t(m);
              m *= size_t(x_[j + 2]);
            }
            acc += wt * xp[at];
          }
          y[(n * C + c) * osz + o] = acc;
        }
      }
  }
  std::string kernel() const override { return "grid-sample-ref"; }

 private:
  float lo(int64_t) const { return align_ ? 0.f : -0.5f; }
  float hi(int64_t len) const { return align_ ? float(len - 1) : float(len) - 0.5f; }
  // Folds v into [a, b] by reflecting at the nearer border, as often as it takes.
  static float reflect(float v, float a, float b) {
    const float range = b - a;
    if (range <= 0.f) return a;
    if (v < a) {
      const float d = a - v;
      const int64_t k = int64_t(d / range);
      const float r = d - float(k) * range;
      return k % 2 == 0 ? a + r : b - r;
    }
    if (v > b) {
      const float d = v - b;
      const int64_t k = int64_t(d / range);
      const float r = d - float(k) * range;
      return k % 2 == 0 ? b - r : a + r;
    }
    return v;
  }
  // The unnormalized coordinate, rounded (nearest) and folded into range (border, reflection).
  float coord(float g, int64_t len) const {
    float v = align_ ? (g + 1.f) / 2.f * float(len - 1) : ((g + 1.f) * float(len) - 1.f) / 2.f;
    if (!std::isfinite(v)) v = 0.f;  // a NaN / infinite grid value samples a defined place, not UB
    v = std::fmax(std::fmin(v, 1e9f), -1e9f);
    if (mode_ == kNearest) v = std::nearbyint(v);
    if (v < lo(len) || v > hi(len)) {
      if (pad_ == kBorder) v = std::fmin(std::fmax(v, 0.f), float(len - 1));
      else if (pad_ == kReflection) v = reflect(v, lo(len), hi(len));
    }
    return v;
  }
  // The tap index i after the padding mode (-1: a zero).
  int64_t tap(int64_t i, int64_t len) const {
    if (i >= 0 && i < len) return i;
    if (pad_ == kZeros) return -1;
    if (pad_ == kBorder) return i < 0 ? 0 : len - 1;
    const int64_t r = int64_t(reflect(float(i), lo(len), hi(len)));
    return r < 0 ? 0 : r >= len ? len - 1 : r;
  }
  void weights(float v, int64_t len, int64_t* idx, float* w) const {
    if (mode_ == kNearest) {
      idx[0] = tap(int64_t(v), len), w[0] = 1.f;  // v is whole already: truncation as the reference's cast
      return;
    }
    const float f = std::floor(v);
    const int64_t i0 = int64_t(f);
    const float t = v - f;
    if (mode_ == kLinear) {
      idx[0] = tap(i0, len), idx[1] = tap(i0 + 1, len);
      w[0] = 1.f - t, w[1] = t;
      return;
    }
    const float A = -0.75f;  // Keys' cubic convolution
    auto near = [&](float s) { return ((A + 2.f) * s - (A + 3.f)) * s * s + 1.f; };           // |s| <= 1
    auto far = [&](float s) { return ((A * s - 5.f * A) * s + 8.f * A) * s - 4.f * A; };      // 1 < |s| < 2
    w[0] = far(t + 1.f), w[1] = near(t), w[2] = near(1.f - t), w[3] = far(2.f - t);
    for (int k = 0; k < 4; ++k) idx[k] = tap(i0 - 1 + k, len);
  }

  Mode mode_ = kLinear;
  Padding pad_ = kZeros;
  bool align_ = false;
  Shape x_, g_;
};

}  // namespace

std::unique_ptr<Op> make_grid_sample(const NodeContext& ctx) { return std::make_unique<GridSample>(ctx); }

}  // namespace pyrt::ops
