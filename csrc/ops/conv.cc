// Conv (2-D): groups (incl. depthwise), strides, explicit or SAME/VALID padding (asymmetric allowed),
// dilations, bias, fused activation. Weights are packed for the GEMM once, when the session is built.
//
// Attribute `layout` (pyruntime's, set by the exporter's channels-last pass): "NCHW" (ONNX's, the default) or
// "NHWC", for input and output; the weight stays ONNX's [Cout, Cin/group, kH, kW] in the file either way.
//   NCHW  1x1, stride 1, no padding: Y[g] = W[g] . X[g] straight from the input (no copy)
//         depthwise (one input and one output channel per group): a per-channel plane kernel, no GEMM
//         otherwise: im2col of one image and group into the workspace, then the packed GEMM
//   NHWC  (group 1 or depthwise) 1x1, stride 1, no padding: Y[NHW, Cout] = X[NHW, Cin] . W^T, every image in
//         one GEMM; depthwise: the channels-last kernel (vectors along channels, full lanes on 7x7 planes);
//         otherwise: im2col with (kh, kw, Cin) rows (contiguous Cin runs), then the GEMM
//   Channels last, group 1: a weight stored int8, int4 or lut runs as StoredLinear chooses (ops/linear_stored.h:
//   int8 as stored, a 1x1 int4 one on the int4 GEMM, a 1x1 lut one on the lookup GEMM where the table has them,
//   other int4 and lut weights requantized to int8 a row at a time): none of them is decoded to f32.
//   A csr weight (group 1, stride 1, no dilation, NCHW) runs the sparse x dense kernel (kernels::SpmmFn): each
//   nonzero weight against a row of pixels; the dense weight is never made. 1x1 without padding: on the input
//   planes. kxk: on the input padded into the workspace, over output rows as wide as the padded rows, so that
//   the weight (c, i, j) reads plane c shifted by i rows and j columns, one offset per column (the columns past
//   the output width are computed and dropped when the rows are compacted).
#include <algorithm>
#include <cstring>

#include "compute/gemm.h"
#include "ops/conv_common.h"
#include "ops/linear_stored.h"
#include "ops/packed_weight.h"
#include "ops/sparse_support.h"
#include "ops/sparse_weight.h"

namespace pyrt::ops {
namespace {

bool gemm_fusable(Act a) { return a == Act::kNone || a == Act::kRelu || a == Act::kClip || a == Act::kLeakyRelu; }

class Conv final : public Op {
 public:
  explicit Conv(const NodeContext& ctx) : k_(ctx.kernels()) {
    ctx.expect_inputs(2, 3);
    const ConstTensor& w = ctx.require_const(1, "weight");
    if (w.desc.dtype != spec::kF32 || w.desc.shape.size() != 4)
      ctx.fail("weight must be a 4-D f32 tensor [Cout, Cin/group, kH, kW], got " + shape_str(w.desc.shape));
    cout_ = w.desc.shape[0], cing_ = w.desc.shape[1], kh_ = w.desc.shape[2], kw_ = w.desc.shape[3];
    group_ = ctx.attr_int("group", 1);
    if (group_ < 1 || cout_ % group_) ctx.fail("group " + std::to_string(group_) + " does not divide Cout " + std::to_string(cout_));
    const ConvAttrs a = conv_attrs(ctx, kh_, kw_);
    strides_ = a.strides, dil_ = a.dil, pads_ = a.pads, auto_pad_ = a.auto_pad;
    if (ctx.has_input(2)) {
      const ConstTensor& b = ctx.require_const(2, "bias", spec::kF32);
      if (b.desc.numel() != cout_ || b.desc.dtype != spec::kF32) ctx.fail("bias must have Cout f32 values");
      bias_ = b.f32();
    }
    act_ = fused_activation(ctx);
    coutg_ = cout_ / group_;
    depthwise_ = cing_ == 1 && coutg_ == 1;
    const std::string layout = ctx.attr_string("layout", "NCHW");
    if (layout != "NCHW" && layout != "NHWC") ctx.fail("layout must be NCHW or NHWC, got '" + layout + "'");
    nhwc_ = layout == "NHWC";
    if (sparse_kernel("Conv", w.desc.shape, ctx) && is_csr(ctx, 1)) {
      sparse_ = sparse_weight(ctx, 1);
      return;
    }
    if (nhwc_ && !depthwise_ && group_ == 1 && lin_.init(ctx, 1, w, size_t(cing_))) return;  // int8, int4, lut
    if (nhwc_ && depthwise_ && init_dw_i8(ctx, w)) return;
    if (depthwise_) w_ = w.f32();  // the other forms read the weight only to pack it (or not: pre-packed)
    if (nhwc_) {
      pack_nhwc(ctx, w);
    } else if (!depthwise_) {
      const size_t K = size_t(cing_ * kh_ * kw_);
      for (int64_t g = 0; g < group_; ++g)
        packed_.push_back(panels_a(ctx, 1, "conv.A.g" + std::to_string(g) + "/" + std::to_string(group_), size_t(coutg_), K, [&] {
          return gemm::pack_a(k_, w.f32() + size_t(g * coutg_) * K, K, false, size_t(coutg_), K);
        }));
    }
  }

  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    require_f32(*this, in[0], "input");
    const Shape& x = in[0].shape;
    if (x.size() != 4) fail(std::string("input must be 4-D ") + (nhwc_ ? "NHWC" : "NCHW") + ", got " + shape_str(x));
    const int64_t cin = nhwc_ ? x[3] : x[1];
    if (cin != cing_ * group_)
      fail("input has " + std::to_string(cin) + " channels, the weight expects " + std::to_string(cing_ * group_));
    n_ = x[0], h_ = nhwc_ ? x[1] : x[2], w_in_ = nhwc_ ? x[2] : x[3];
    const ConvOut o = conv_output(*this, {strides_, dil_, pads_, auto_pad_}, h_, w_in_, kh_, kw_, x);
    pt_ = o.pt, pl_ = o.pl, pb_ = o.pb, pr_ = o.pr, oh_ = o.oh, ow_ = o.ow;
    out[0] = {nhwc_ ? Shape{n_, oh_, ow_, cout_} : Shape{n_, cout_, oh_, ow_}, spec::kF32};
    direct_1x1_ = kh_ == 1 && kw_ == 1 && strides_[0] == 1 && strides_[1] == 1 && pt_ + pl_ + pb_ + pr_ == 0;
    if (sparse_ && !direct_1x1_) {  // each weight column's place in the padded input (see the header)
      const size_t hp = size_t(h_ + pt_ + pb_), wp = size_t(w_in_ + pl_ + pr_);
      x_offset_.resize(size_t(cing_ * kh_ * kw_));
      for (int64_t c = 0; c < cing_; ++c)
        for (int64_t i = 0; i < kh_; ++i)
          for (int64_t j = 0; j < kw_; ++j) x_offset_[size_t((c * kh_ + i) * kw_ + j)] = size_t(c) * hp * wp + size_t(i) * wp + size_t(j);
    }
  }

  // Only the NCHW depthwise kernel reads the weight as given (its decoded copy, when encoded) and a sparse one
  // read in place its csr buffers; every other path made its own form of it.
  bool reads_input(size_t i) const override { return !(i == 1 && (sparse_ || nhwc_ || !depthwise_)); }
  bool reads_stored(size_t i) const override {
    return reads_input(i) || (i == 1 && (lin_.reads_stored() || (sparse_ && sparse_->in_place)));
  }

  size_t workspace_bytes(const std::vector<TensorDesc>&, const std::vector<TensorDesc>&, int threads) const override {
    if (sparse_) return direct_1x1_ ? 0 : align64(padded_floats() * 4) + align64(size_t(cout_ * oh_) * wp() * 4);
    if (nhwc_) {
      if (depthwise_) return dw_i8_ ? align64(dw_i8_->q.size() * 4) : 0;
      const size_t K = size_t(cing_ * kh_ * kw_), rows = gemm_rows();
      return (direct_1x1_ ? 0 : align64(rows * K * 4)) +
             (lin_.active() ? lin_.workspace_bytes(int64_t(rows))
                            : gemm::workspace_size(rows, size_t(cout_), K, threads, gemm::Prepacked::kB));
    }
    if (depthwise_) return size_t(threads) * align64(kernels::dwconv_scratch_floats(dw_params()) * 4);
    const size_t K = size_t(cing_ * kh_ * kw_), N = size_t(oh_ * ow_);
    const size_t col = direct_1x1_ ? 0 : align64(K * N * 4);
    return col + gemm::workspace_size(size_t(coutg_), N, K, threads, gemm::Prepacked::kA);
  }

  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    // constants read at run through in[]: the session may have copied a small one out of the mapping since
    if (bias_) bias_ = static_cast<const float*>(in[2]);
    if (w_ && in[1]) w_ = static_cast<const float*>(in[1]);
    const float* x = static_cast<const float*>(in[0]);
    float* y = static_cast<float*>(out[0]);
    if (sparse_) return run_sparse(ctx, x, y);
    if (nhwc_) return depthwise_ ? run_depthwise_nhwc(ctx, x, y) : run_gemm_nhwc(ctx, x, y);
    if (depthwise_) return run_depthwise(ctx, x, y);
    const size_t K = size_t(cing_ * kh_ * kw_), N = size_t(oh_ * ow_), HW = size_t(h_ * w_in_);
    float* col = static_cast<float*>(ctx.workspace);
    void* gws = static_cast<uint8_t*>(ctx.workspace) + (direct_1x1_ ? 0 : align64(K * N * 4));
    gemm::Epilogue ep;
    if (gemm_fusable(act_.act)) ep.act = act_;
    ep.bias_kind = bias_ ? gemm::Epilogue::kPerRow : gemm::Epilogue::kNone;
    for (int64_t n = 0; n < n_; ++n)
      for (int64_t g = 0; g < group_; ++g) {
        const float* xg = x + size_t(n * group_ * cing_ + g * cing_) * HW;
        float* yg = y + size_t(n * cout_ + g * coutg_) * N;
        ep.bias = bias_ ? bias_ + g * coutg_ : nullptr;
        const float* b = xg;
        if (!direct_1x1_) {
          im2col(ctx, xg, col);
          b = col;
        }
        gemm::gemm_packed_a(k_, *packed_[size_t(g)], b, N, N, yg, N, ep, ctx.pool, gws);
        if (!gemm_fusable(act_.act)) apply_act(ctx, yg, size_t(coutg_) * N);
      }
  }

  std::string kernel() const override {
    if (sparse_) return std::string("spmm-") + k_.name;
    if (nhwc_) {
      if (depthwise_) return std::string(dw_i8_ ? "dwconv-nhwc-i8w-" : "dwconv-nhwc-") + k_.name;
      const std::string gemm = lin_.active() ? lin_.kernel(gemm_rows()) : "gemm-";
      return std::string(direct_1x1_ ? "conv1x1-nhwc-" : "conv-nhwc-im2col-") + gemm + k_.name;
    }
    if (depthwise_) return std::string("dwconv-") + k_.name;
    return std::string(direct_1x1_ ? "conv1x1-gemm-" : "conv-im2col-gemm-") + k_.name;
  }

 private:
  // Each image: all output planes over pixel ranges split across threads (each thread reads its own columns
  // of the input planes, which stay in cache across the output channels).
  void run_sparse(const RunContext& ctx, const float* x, float* y) {
    const size_t P = size_t(oh_ * ow_), HW = size_t(h_ * w_in_);
    kernels::SparseRows w = sparse_->view();
    const bool fused = act_.act == Act::kNone || act_.act == Act::kRelu || act_.act == Act::kClip;
    auto spmm = [&](const float* xn, float* yn, size_t pixels, size_t x_stride) {
      parallel(ctx, (pixels + 127) / 128, 1, [&](size_t b, size_t e, int) {  // whole 128-pixel tiles per thread
        k_.spmm(w, x_stride, bias_, act_, xn, yn, pixels, b * 128, std::min(pixels, e * 128));
      });
    };
    if (direct_1x1_) {
      for (int64_t n = 0; n < n_; ++n) spmm(x + size_t(n * cing_) * HW, y + size_t(n * cout_) * P, P, P);
    } else {
      w.x_offset = x_offset_.data();
      const size_t wp = this->wp(), hp = size_t(h_ + pt_ + pb_), pv = size_t(oh_) * wp;
      float* xp = static_cast<float*>(ctx.workspace);
      float* yv = xp + align64(padded_floats() * 4) / 4;
      // Zeros only where no input lands (the workspace is shared, so every run): each plane's top and bottom
      // pad rows, each row's left and right pads (below, with the copy), and the slack after the last plane.
      const size_t pw = size_t(pl_), pe = size_t(pr_), top = size_t(pt_) * wp, bottom = size_t(pb_) * wp;
      for (int64_t c = 0; c < cing_; ++c) {
        float* plane = xp + size_t(c) * hp * wp;
        std::memset(plane, 0, top * 4);
        std::memset(plane + (hp * wp - bottom), 0, bottom * 4);
      }
      std::memset(xp + size_t(cing_) * hp * wp, 0, (padded_floats() - size_t(cing_) * hp * wp) * 4);
      for (int64_t n = 0; n < n_; ++n) {
        const float* xn = x + size_t(n * cing_) * HW;
        parallel(ctx, size_t(cing_ * h_), 64, [&](size_t b, size_t e, int) {
          for (size_t r = b; r < e; ++r) {
            float* row = xp + r / size_t(h_) * hp * wp + (r % size_t(h_) + size_t(pt_)) * wp;
            std::memset(row, 0, pw * 4);
            std::memcpy(row + pw, xn + r * size_t(w_in_), size_t(w_in_) * 4);
            std::memset(row + pw + size_t(w_in_), 0, pe * 4);
          }
        });
        spmm(xp, yv, pv, 0);
        float* yn = y + size_t(n * cout_) * P;
        parallel(ctx, size_t(cout_ * oh_), 64, [&](size_t b, size_t e, int) {
          for (size_t r = b; r < e; ++r) std::memcpy(yn + r * size_t(ow_), yv + r * wp, size_t(ow_) * 4);
        });
      }
    }
    if (!fused) apply_act(ctx, y, size_t(n_ * cout_) * P);
  }
  // the padded input plane width, and the floats of all padded planes plus the slack the extra columns read
  size_t wp() const { return size_t(w_in_ + pl_ + pr_); }
  size_t padded_floats() const { return size_t(cing_ * (h_ + pt_ + pb_)) * wp() + size_t(kw_) + 16; }

  void apply_act(const RunContext& ctx, float* y, size_t n) {
    parallel(ctx, n, 1 << 14, [&](size_t b, size_t e, int) { k_.unary(act_, y + b, y + b, e - b); });
  }

  // col[(c*kh + i)*kw + j][oh*OW + ow] = x[c][oh*sh - pt + i*dh][ow*sw - pl + j*dw] (0 outside)
  void im2col(const RunContext& ctx, const float* x, float* col) const {
    const size_t rows = size_t(cing_ * kh_ * kw_), N = size_t(oh_ * ow_);
    parallel(ctx, rows, 4, [&](size_t r0, size_t r1, int) {
      for (size_t r = r0; r < r1; ++r) {
        const int64_t c = int64_t(r) / (kh_ * kw_), i = (int64_t(r) / kw_) % kh_, j = int64_t(r) % kw_;
        const float* xc = x + size_t(c * h_ * w_in_);
        float* dst = col + r * N;
        for (int64_t oh = 0; oh < oh_; ++oh) {
          const int64_t ih = oh * strides_[0] - pt_ + i * dil_[0];
          float* d = dst + oh * ow_;
          if (ih < 0 || ih >= h_) {
            std::memset(d, 0, size_t(ow_) * 4);
            continue;
          }
          const float* xr = xc + ih * w_in_;
          const int64_t off = j * dil_[1] - pl_;
          if (strides_[1] == 1 && off >= 0 && off + ow_ <= w_in_) {
            std::memcpy(d, xr + off, size_t(ow_) * 4);
            continue;
          }
          for (int64_t ow = 0; ow < ow_; ++ow) {
            const int64_t iw = ow * strides_[1] + off;
            d[ow] = (iw >= 0 && iw < w_in_) ? xr[iw] : 0.f;
          }
        }
      }
    });
  }

  kernels::DwConvParams dw_params() const {
    return {h_, w_in_, kh_, kw_, strides_[0], strides_[1], dil_[0], dil_[1], pt_, pl_, oh_, ow_};
  }

  void run_depthwise(const RunContext& ctx, const float* x, float* y) {
    const size_t C = size_t(cout_), HW = size_t(h_ * w_in_), OHW = size_t(oh_ * ow_);
    const kernels::DwConvParams p = dw_params();
    const size_t per_thread = align64(kernels::dwconv_scratch_floats(p) * 4);
    parallel(ctx, size_t(n_) * C, 1, [&](size_t b, size_t e, int t) {
      float* scratch = reinterpret_cast<float*>(static_cast<uint8_t*>(ctx.workspace) + size_t(t) * per_thread);
      for (size_t nc = b; nc < e; ++nc) {
        const size_t c = nc % C;
        float* yc = y + nc * OHW;
        k_.dwconv(p, x + nc * HW, w_ + c * size_t(kh_ * kw_), bias_ ? bias_[c] : 0.f, yc, scratch);
        if (act_.act != Act::kNone) k_.unary(act_, yc, yc, OHW);
      }
    });
  }

  // Channels-last weights: depthwise taps as [kh*kw][C]; otherwise W^T packed as the GEMM's right operand with
  // rows in im2col order (i, j, c).
  void pack_nhwc(const NodeContext& ctx, const ConstTensor& w) {
    if (depthwise_) {
      wdw_ = ctx.shared<std::vector<float>>(1, "conv.dw.nhwc", [&] {
        std::vector<float> t(size_t(kh_ * kw_ * cout_));
        for (int64_t c = 0; c < cout_; ++c)
          for (int64_t k = 0; k < kh_ * kw_; ++k) t[size_t(k * cout_ + c)] = w_[c * kh_ * kw_ + k];
        return t;
      });
      return;
    }
    if (group_ != 1) ctx.fail("layout NHWC supports group 1 and depthwise convolutions, not group " + std::to_string(group_));
    const size_t K = size_t(cing_ * kh_ * kw_);
    packed_b_ = panels_b(ctx, 1, "conv.B.nhwc", K, size_t(cout_), [&] {
      const float* src = w.f32();
      std::vector<float> t(K * size_t(cout_));  // [Cout][i][j][c]
      for (int64_t o = 0; o < cout_; ++o)
        for (int64_t c = 0; c < cing_; ++c)
          for (int64_t k = 0; k < kh_ * kw_; ++k) t[size_t(o) * K + size_t(k * cing_ + c)] = src[(o * cing_ + c) * kh_ * kw_ + k];
      return gemm::pack_b(k_, t.data(), K, true, K, size_t(cout_));
    });
  }

  // A depthwise weight stored i8 (int8-weights, symmetric, per channel or per tensor) stays int8 ([taps][C], a
  // byte a weight); each run makes the f32 taps the kernel reads in its workspace, the decode's own values
  // (float(q) * scale), a tap-times-channel pass against the pixels' tap-times-channel-times-pixel one.
  bool init_dw_i8(const NodeContext& ctx, const ConstTensor& w) {
    if (!w.encoded()) return false;
    const TensorInfo& t = ctx.model().tensors()[w.tensor_index];
    if (t.encoding != spec::kEncI8 || t.p.zero_point || (t.p.axis != 0 && t.p.axis != -1) || t.numel == 0) return false;
    ctx.model().check_tensor(w.tensor_index);
    const Model& model = ctx.model();
    const size_t tensor = w.tensor_index, taps = size_t(kh_ * kw_), C = size_t(cout_);
    dw_i8_ = ctx.shared<DwI8>(1, "conv.dw.nhwc.i8", [&] {
      const int8_t* q = reinterpret_cast<const int8_t*>(model.buffer(tensor, 0));
      const uint8_t* sc = model.buffer(tensor, 1);
      DwI8 r;
      r.q.resize(taps * C);
      r.scale.resize(C);
      for (size_t c = 0; c < C; ++c) {
        r.scale[c] = i8_row_scale(t, sc, c);
        for (size_t k = 0; k < taps; ++k) r.q[k * C + c] = q[c * taps + k];
      }
      return r;
    });
    return true;
  }

  void run_depthwise_nhwc(const RunContext& ctx, const float* x, float* y) {
    const float* wdw = wdw_ ? wdw_->data() : nullptr;
    if (dw_i8_) {
      float* t = static_cast<float*>(ctx.workspace);
      const size_t C = size_t(cout_), n = dw_i8_->q.size();
      const int8_t* q = dw_i8_->q.data();
      const float* sc = dw_i8_->scale.data();
      for (size_t i = 0; i < n; i += C)
        for (size_t c = 0; c < C; ++c) t[i + c] = float(q[i + c]) * sc[c];
      wdw = t;
    }
    const kernels::DwNhwcParams p{h_,     w_in_, cout_, kh_, kw_, strides_[0], strides_[1], dil_[0], dil_[1],
                                  pt_,    pl_,   oh_,   ow_, 0,   cout_};
    const size_t in_img = size_t(h_ * w_in_ * cout_), out_img = size_t(oh_ * ow_ * cout_);
    const bool fused = act_.act == Act::kNone || act_.act == Act::kRelu || act_.act == Act::kClip;
    parallel_dw_rows(ctx, n_, oh_, cout_, [&](size_t n, int64_t cb, int64_t ce, int64_t r0, int64_t r1) {
      kernels::DwNhwcParams q = p;
      q.cb = cb, q.ce = ce;
      k_.dwconv_nhwc(q, x + n * in_img, wdw, bias_, act_, y + n * out_img, r0, r1);
    });
    if (!fused) apply_act(ctx, y, size_t(n_) * out_img);
  }

  void run_gemm_nhwc(const RunContext& ctx, const float* x, float* y) {
    const size_t K = size_t(cing_ * kh_ * kw_), P = size_t(oh_ * ow_), C = size_t(cout_);
    gemm::Epilogue ep;
    if (gemm_fusable(act_.act)) ep.act = act_;
    ep.bias = bias_;
    ep.bias_kind = bias_ ? gemm::Epilogue::kPerCol : gemm::Epilogue::kNone;
    if (direct_1x1_) {
      if (lin_.active()) {
        if (!lin_.run(ctx, k_, x, n_ * int64_t(P), bias_, y, act_)) apply_act(ctx, y, size_t(n_) * P * C);
        return;
      }
      gemm::gemm_packed_b(k_, x, K, size_t(n_) * P, *packed_b_, y, C, ep, ctx.pool, ctx.workspace);
      if (!gemm_fusable(act_.act)) apply_act(ctx, y, size_t(n_) * P * C);
      return;
    }
    // Blocks of output pixels: the im2col rows of one block stay in L2 for the GEMM that reads them (a whole
    // image's would go out to L3 and back), and the workspace stays small for big convolutions.
    const size_t rows = im2col_rows();
    float* col = static_cast<float*>(ctx.workspace);
    void* gws = static_cast<uint8_t*>(ctx.workspace) + align64(rows * K * 4);
    for (int64_t n = 0; n < n_; ++n)
      for (size_t p0 = 0; p0 < P; p0 += rows) {
        const size_t pn = std::min(rows, P - p0);
        const Im2colNhwc g{cing_, kh_, kw_, h_, w_in_, ow_, strides_[0], strides_[1], dil_[0], dil_[1], pt_, pl_};
        im2col_nhwc(ctx, g, x + size_t(n * h_ * w_in_ * cing_), p0, pn, col, K, 0.f);
        float* yb = y + (size_t(n) * P + p0) * C;
        if (lin_.active()) {
          if (!lin_.run(ctx, k_, col, int64_t(pn), bias_, yb, act_, gws)) apply_act(ctx, yb, pn * C);
          continue;
        }
        gemm::gemm_packed_b(k_, col, K, pn, *packed_b_, yb, C, ep, ctx.pool, gws);
        if (!gemm_fusable(act_.act)) apply_act(ctx, yb, pn * C);
      }
  }

  // Rows each GEMM of the channels-last path runs: every pixel of the batch (1x1), else an im2col block.
  size_t gemm_rows() const { return direct_1x1_ ? size_t(n_ * oh_ * ow_) : im2col_rows(); }
  // Output pixels per im2col block: ~256 KiB of rows, at least 256 pixels (GEMM efficiency), at most all.
  size_t im2col_rows() const {
    const size_t K = size_t(cing_ * kh_ * kw_), P = size_t(oh_ * ow_);
    return std::min(P, std::max<size_t>(256, (256 << 10) / (K * 4)));
  }

  const kernels::Table& k_;
  int64_t cout_, cing_, kh_, kw_, group_, coutg_;
  std::vector<int64_t> strides_, dil_, pads_;
  std::string auto_pad_;
  const float* bias_ = nullptr;
  const float* w_ = nullptr;
  ActParams act_;
  bool depthwise_ = false, direct_1x1_ = false, nhwc_ = false;
  // shared by all sessions of the model
  std::vector<std::shared_ptr<const gemm::PackedA>> packed_;
  std::shared_ptr<const gemm::PackedB> packed_b_;
  std::shared_ptr<const std::vector<float>> wdw_;
  struct DwI8 {
    std::vector<int8_t> q;     // [taps][C]
    std::vector<float> scale;  // per channel
  };
  std::shared_ptr<const DwI8> dw_i8_;  // a depthwise weight stored i8, kept int8 (init_dw_i8)
  std::shared_ptr<const SparseWeight> sparse_;
  StoredLinear lin_;              // an int8, int4 or lut weight (channels last, group 1) as stored or requantized
  std::vector<size_t> x_offset_;  // kxk sparse: per weight column, its input row in the padded planes
  int64_t n_ = 0, h_ = 0, w_in_ = 0, oh_ = 0, ow_ = 0, pt_ = 0, pl_ = 0, pb_ = 0, pr_ = 0;
};

}  // namespace

std::unique_ptr<Op> make_conv(const NodeContext& ctx) { return std::make_unique<Conv>(ctx); }

}  // namespace pyrt::ops
