// MaxPool and AveragePool (2-D): kernel_shape, strides, pads (asymmetric, or auto_pad), dilations (max), ceil_mode,
// count_include_pad (average). GlobalAveragePool / GlobalMaxPool. Attribute `layout` "NCHW" (default) or
// "NHWC" (channels last, see conv.cc): then the inner loops run along contiguous channels. MaxPool also takes u8
// (a static int8 graph: the max of quantized values is the quantized max, same scale and zero point).
#include <algorithm>
#include <cfloat>

#include "ops/common.h"

namespace pyrt::ops {
namespace {

bool layout_nhwc(const NodeContext& ctx) {
  const std::string l = ctx.attr_string("layout", "NCHW");
  if (l != "NCHW" && l != "NHWC") ctx.fail("layout must be NCHW or NHWC, got '" + l + "'");
  return l == "NHWC";
}

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
    auto_pad_ = ctx.attr_string("auto_pad", "NOTSET");
    if (auto_pad_ != "NOTSET" && auto_pad_ != "SAME_UPPER" && auto_pad_ != "SAME_LOWER" && auto_pad_ != "VALID")
      ctx.fail("unknown auto_pad '" + auto_pad_ + "'");
    if (s_.size() != 2 || p_.size() != 4 || d_.size() != 2) ctx.fail("strides/pads/dilations must have 2/4/2 values");
    for (int64_t v : {k_[0], k_[1], s_[0], s_[1], d_[0], d_[1]})
      if (v < 1 || v > kMaxWindow) ctx.fail("kernel, strides and dilations must be in [1, 2^20]");
    for (int64_t v : p_)
      if (v < 0 || v > kMaxWindow) ctx.fail("pads must be in [0, 2^20]");
    nhwc_ = layout_nhwc(ctx);
  }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    u8_ = max_ && in[0].dtype == spec::kU8;
    if (!u8_) require_f32(*this, in[0], max_ ? "input (f32 or u8)" : "input");
    const Shape& x = in[0].shape;
    if (x.size() != 4) fail(std::string("input must be 4-D ") + (nhwc_ ? "NHWC" : "NCHW") + ", got " + shape_str(x));
    n_ = x[0], c_ = nhwc_ ? x[3] : x[1], h_ = nhwc_ ? x[1] : x[2], w_ = nhwc_ ? x[2] : x[3];
    nc_ = n_ * c_;
    if (auto_pad_ == "VALID") {
      p_ = {0, 0, 0, 0};
    } else if (auto_pad_ != "NOTSET") {  // SAME_*: output = ceil(input / stride), the padding split as ONNX
      const int64_t hw[2] = {h_, w_};
      for (int i = 0; i < 2; ++i) {
        const int64_t o = (hw[i] + s_[i] - 1) / s_[i];
        const int64_t tot = std::max<int64_t>(0, (o - 1) * s_[i] + (k_[i] - 1) * d_[i] + 1 - hw[i]);
        p_[size_t(i)] = auto_pad_ == "SAME_UPPER" ? tot / 2 : tot - tot / 2;
        p_[size_t(i + 2)] = tot - p_[size_t(i)];
      }
    }
    auto osz = [&](int64_t in, int64_t k, int64_t s, int64_t d, int64_t pa, int64_t pb) {
      const int64_t span = in + pa + pb - ((k - 1) * d + 1);
      if (span < 0) fail("pooling window larger than the padded input " + shape_str(x));
      int64_t o = (ceil_ ? (span + s - 1) / s : span / s) + 1;
      if (ceil_ && (o - 1) * s >= in + pa) --o;  // the last window must start inside the input or left pad
      return o;
    };
    oh_ = osz(h_, k_[0], s_[0], d_[0], p_[0], p_[2]);
    ow_ = osz(w_, k_[1], s_[1], d_[1], p_[1], p_[3]);
    out[0] = {nhwc_ ? Shape{n_, oh_, ow_, c_} : Shape{n_, c_, oh_, ow_}, u8_ ? spec::kU8 : spec::kF32};
  }
  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    if (u8_) return run_t(ctx, static_cast<const uint8_t*>(in[0]), static_cast<uint8_t*>(out[0]), uint8_t(0));
    run_t(ctx, static_cast<const float*>(in[0]), static_cast<float*>(out[0]), -FLT_MAX);
  }
  std::string kernel() const override {
    return std::string(max_ ? "maxpool" : "avgpool") + (nhwc_ ? "-nhwc" : "") + (u8_ ? "-u8" : "") + "-direct";
  }

 private:
  // NCHW: two rows of floats per thread (see run_t).
  size_t workspace_bytes(const std::vector<TensorDesc>&, const std::vector<TensorDesc>&, int threads) const override {
    return nhwc_ ? 0 : size_t(threads) * 2 * align64(size_t(w_) * sizeof(float));
  }

  // T: float, or uint8_t (MaxPool only); lowest: the max's start value.
  // NCHW: separable. Per output row, the max (or sum) over the window's rows inside the input is taken along
  // the whole input row into a scratch row (a contiguous loop the compiler vectorizes), then the output columns
  // whose taps are all inside reduce that row tap-major, the edge columns one by one. The per-tap loop this
  // replaces took 31 us on 96 planes of 16x16 (max 2x2/2), this 12 us.
  template <typename T>
  void run_t(const RunContext& ctx, const T* x, T* y, T lowest) const {
    if (nhwc_) return run_nhwc(ctx, x, y, lowest);
    const size_t row_floats = align64(size_t(w_) * sizeof(float)) / sizeof(float);
    parallel(ctx, size_t(nc_), 1, [&](size_t b, size_t e, int t) {
      float* rowacc = static_cast<float*>(ctx.workspace) + size_t(t) * 2 * row_floats;
      float* colacc = rowacc + row_floats;  // the interior outputs of a row
      for (size_t c = b; c < e; ++c) {
        const T* xc = x + c * size_t(h_ * w_);
        T* yc = y + c * size_t(oh_ * ow_);
        for (int64_t oh = 0; oh < oh_; ++oh) {
          const int64_t h0 = oh * s_[0] - p_[0];
          int64_t rows = 0;
          for (int64_t i = 0; i < k_[0]; ++i) {
            const int64_t ih = h0 + i * d_[0];
            if (ih < 0 || ih >= h_) continue;
            const T* xr = xc + ih * w_;
            if (rows == 0)
              for (int64_t w = 0; w < w_; ++w) rowacc[w] = float(xr[w]);
            else if (max_)
              for (int64_t w = 0; w < w_; ++w) rowacc[w] = std::max(rowacc[w], float(xr[w]));
            else
              for (int64_t w = 0; w < w_; ++w) rowacc[w] += float(xr[w]);
            ++rows;
          }
          T* yr = yc + oh * ow_;
          // columns whose taps are all inside: no bounds checks (the compiler vectorizes these per stride)
          const int64_t span = (k_[1] - 1) * d_[1], sw = s_[1], dw = d_[1], kw = k_[1];
          const int64_t lo = std::min(ow_, (p_[1] + sw - 1) / sw);
          const int64_t hi = std::max(lo, std::min(ow_, w_ + p_[1] - span > 0 ? (w_ + p_[1] - span - 1) / sw + 1 : 0));
          const float denom_in = float(rows * kw);
          auto edge = [&](int64_t ow) {
            const int64_t w0 = ow * sw - p_[1];
            float acc = max_ ? float(lowest) : 0.f;
            int64_t cols = 0;
            for (int64_t j = 0; j < kw; ++j) {
              const int64_t iw = w0 + j * dw;
              if (iw < 0 || iw >= w_) continue;
              acc = max_ ? std::max(acc, rowacc[iw]) : acc + rowacc[iw];
              ++cols;
            }
            if (rows == 0) acc = max_ ? float(lowest) : 0.f;
            if (!max_) {
              const int64_t denom = divisor(rows * cols, h0, w0);
              acc = denom ? acc / float(denom) : 0.f;
            }
            yr[ow] = T(acc);
          };
          for (int64_t ow = 0; ow < lo; ++ow) edge(ow);
          if (rows == 0 || (!max_ && include_pad_)) {
            for (int64_t ow = lo; ow < hi; ++ow) edge(ow);
          } else if (sw == 1) {
            interior<1>(rowacc, colacc, yr, lo, hi, sw, denom_in);
          } else if (sw == 2) {
            interior<2>(rowacc, colacc, yr, lo, hi, sw, denom_in);
          } else {
            interior<0>(rowacc, colacc, yr, lo, hi, sw, denom_in);
          }
          for (int64_t ow = hi; ow < ow_; ++ow) edge(ow);
        }
      }
    });
  }

  // Output columns [lo, hi) of a row (every tap inside) from the window rows' max / sum `r`, tap-major so that
  // the inner loops run along the row; SW: the stride when known at compile time (1, 2), else 0 (runtime sw).
  template <int SW, typename T>
  void interior(const float* r0, float* __restrict o, T* __restrict yr, int64_t lo, int64_t hi, int64_t sw,
                float denom) const {
    const int64_t s = SW ? SW : sw, n = hi - lo;  // n <= w_: interior windows start at distinct columns of x
    const float* __restrict r = r0 + lo * s - p_[1];
    for (int64_t q = 0; q < n; ++q) o[q] = r[q * s];
    for (int64_t j = 1; j < k_[1]; ++j) {
      const float* __restrict rj = r + j * d_[1];
      if (max_)
        for (int64_t q = 0; q < n; ++q) o[q] = std::max(o[q], rj[q * s]);
      else
        for (int64_t q = 0; q < n; ++q) o[q] += rj[q * s];
    }
    if (max_)
      for (int64_t q = 0; q < n; ++q) yr[lo + q] = T(o[q]);
    else
      for (int64_t q = 0; q < n; ++q) yr[lo + q] = T(o[q] / denom);
  }

  // Calls f(ih * W + iw) for each tap of the window at (h0, w0) inside the input, in (i, j) order; returns
  // how many there were.
  template <typename F>
  int64_t for_each_tap(int64_t h0, int64_t w0, F&& f) const {
    int64_t cnt = 0;
    for (int64_t i = 0; i < k_[0]; ++i) {
      const int64_t ih = h0 + i * d_[0];
      if (ih < 0 || ih >= h_) continue;
      for (int64_t j = 0; j < k_[1]; ++j) {
        const int64_t iw = w0 + j * d_[1];
        if (iw < 0 || iw >= w_) continue;
        f(ih * w_ + iw);
        ++cnt;
      }
    }
    return cnt;
  }

  // The average's divisor: the taps counted, or with count_include_pad the window clipped to the padded input
  // (not to ceil-mode overhang).
  int64_t divisor(int64_t cnt, int64_t h0, int64_t w0) const {
    if (!include_pad_) return cnt;
    const int64_t he = std::min(h0 + k_[0], h_ + p_[2]), we = std::min(w0 + k_[1], w_ + p_[3]);
    return (he - h0) * (we - w0);
  }

  // Channels last: each output pixel accumulates whole channel rows.
  template <typename T>
  void run_nhwc(const RunContext& ctx, const T* x, T* y, T lowest) const {
    const size_t C = size_t(c_);
    parallel(ctx, size_t(n_ * oh_), 1, [&](size_t b, size_t e, int) {
      for (size_t r = b; r < e; ++r) {
        const int64_t n = int64_t(r) / oh_, oh = int64_t(r) % oh_;
        const T* xn = x + size_t(n * h_ * w_) * C;
        for (int64_t ow = 0; ow < ow_; ++ow) {
          T* yp = y + (r * size_t(ow_) + size_t(ow)) * C;
          for (size_t c = 0; c < C; ++c) yp[c] = max_ ? lowest : T(0);
          const int64_t h0 = oh * s_[0] - p_[0], w0 = ow * s_[1] - p_[1];
          const int64_t cnt = for_each_tap(h0, w0, [&](int64_t at) {
            const T* xp = xn + size_t(at) * C;
            if (max_)
              for (size_t c = 0; c < C; ++c) yp[c] = std::max(yp[c], xp[c]);
            else
              for (size_t c = 0; c < C; ++c) yp[c] += xp[c];
          });
          if (!max_) {
            const int64_t denom = divisor(cnt, h0, w0);
            for (size_t c = 0; c < C; ++c) yp[c] = T(denom ? float(yp[c]) / float(denom) : 0.f);
          }
        }
      }
    });
  }

  bool max_, ceil_, include_pad_, nhwc_ = false, u8_ = false;
  std::vector<int64_t> k_, s_, p_, d_;
  std::string auto_pad_;  // NOTSET, SAME_UPPER, SAME_LOWER or VALID (then p_ is set per plan)
  int64_t n_ = 0, c_ = 0, nc_ = 0, h_ = 0, w_ = 0, oh_ = 0, ow_ = 0;
};

// GlobalAveragePool / GlobalMaxPool: one value per (n, c) over all spatial positions.
class GlobalPool final : public Op {
 public:
  explicit GlobalPool(const NodeContext& ctx) : max_(ctx.node().op_type == "GlobalMaxPool"), nhwc_(layout_nhwc(ctx)) {
    ctx.expect_inputs(1, 1);
  }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    require_f32(*this, in[0], "input");
    const Shape& x = in[0].shape;
    if (x.size() < 3 || (nhwc_ && x.size() != 4))
      fail(std::string("input must be ") + (nhwc_ ? "4-D NHWC" : "N x C x spatial...") + ", got " + shape_str(x));
    n_ = x[0], c_ = nhwc_ ? x[3] : x[1];
    nc_ = n_ * c_;
    hw_ = numel(x) / std::max<int64_t>(nc_, 1);
    Shape o = x;
    for (size_t i = nhwc_ ? 1 : 2; i < o.size() - (nhwc_ ? 1 : 0); ++i) o[i] = 1;
    out[0] = {o, spec::kF32};
  }
  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const float* x = static_cast<const float*>(in[0]);
    float* y = static_cast<float*>(out[0]);
    if (nhwc_) {  // per image, channel runs over the pixels in order: the NCHW loop's sum, element by element
      const size_t C = size_t(c_), HW = size_t(hw_);
      parallel(ctx, size_t(n_) * ((C + 63) / 64), 1, [&](size_t b, size_t e, int) {
        for (size_t t = b; t < e; ++t) {
          const size_t n = t / ((C + 63) / 64), c0 = (t % ((C + 63) / 64)) * 64, c1 = std::min(C, c0 + 64);
          float* yn = y + n * C;
          const float* xn = x + n * HW * C;
          for (size_t c = c0; c < c1; ++c) yn[c] = max_ ? -FLT_MAX : 0.f;
          for (size_t i = 0; i < HW; ++i)
            for (size_t c = c0; c < c1; ++c) yn[c] = max_ ? std::max(yn[c], xn[i * C + c]) : yn[c] + xn[i * C + c];
          if (!max_)
            for (size_t c = c0; c < c1; ++c) yn[c] /= float(std::max<size_t>(HW, 1));
        }
      });
      return;
    }
    parallel(ctx, size_t(nc_), 8, [&](size_t b, size_t e, int) {
      for (size_t c = b; c < e; ++c) {
        const float* xc = x + c * size_t(hw_);
        float acc = max_ ? -FLT_MAX : 0.f;
        for (int64_t i = 0; i < hw_; ++i) acc = max_ ? std::max(acc, xc[i]) : acc + xc[i];
        y[c] = max_ ? acc : acc / float(std::max<int64_t>(hw_, 1));
      }
    });
  }
  std::string kernel() const override { return nhwc_ ? "globalpool-nhwc-direct" : "globalpool-direct"; }

 private:
  bool max_, nhwc_;
  int64_t n_ = 0, c_ = 0, nc_ = 0, hw_ = 0;
};

}  // namespace

std::unique_ptr<Op> make_pool(const NodeContext& ctx) { return std::make_unique<Pool>(ctx); }
std::unique_ptr<Op> make_global_pool(const NodeContext& ctx) { return std::make_unique<GlobalPool>(ctx); }

}  // namespace pyrt::ops
