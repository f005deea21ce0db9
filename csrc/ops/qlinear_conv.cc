// QLinearConv (ONNX): u8 activations, s8 weights with per-output-channel scales, int32 bias, u8 output; fused
// relu / relu6 / clip as the requantization clamp. Channels last only (layout "NHWC", which the exporter's
// int8 pass always sets): group 1 runs as a u8 x s8 GEMM (1x1: the input read in place; kxk: im2col rows
// padded with the input zero point) — on the sparse u8 GEMM when w is stored csr —, depthwise on the int8
// depthwise kernel.
// Inputs: x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B (optional).
#include "compute/qgemm.h"
#include "ops/conv_common.h"
#include "ops/quant_common.h"
#include "ops/sparse_support.h"
#include "ops/sparse_weight.h"

namespace pyrt::ops {
namespace {

class QLinearConv final : public Op {
 public:
  explicit QLinearConv(const NodeContext& ctx) : k_(ctx.kernels()) {
    ctx.expect_inputs(8, 9);
    const ConstTensor& w = ctx.require_const(3, "w", spec::kI8);
    if (w.desc.shape.size() != 4) ctx.fail("w must be 4-D [Cout, Cin/group, kH, kW], got " + shape_str(w.desc.shape));
    cout_ = w.desc.shape[0], cing_ = w.desc.shape[1], kh_ = w.desc.shape[2], kw_ = w.desc.shape[3];
    group_ = ctx.attr_int("group", 1);
    depthwise_ = group_ == cout_ && cing_ == 1;
    if (group_ != 1 && !depthwise_)
      ctx.fail("QLinearConv supports group 1 and depthwise convolutions, not group " + std::to_string(group_));
    if (ctx.attr_string("layout", "NCHW") != "NHWC")
      ctx.fail("QLinearConv runs channels-last only: layout must be \"NHWC\" (the exporter sets it)");
    a_ = conv_attrs(ctx, kh_, kw_);
    xq_ = qparams(ctx, 1, 2, "x");
    const kernels::QParams yq = qparams(ctx, 6, 7, "y");
    rq_ = requant_clamp(ctx, yq);
    const std::vector<float> ws = weight_scales(ctx, 4, 5, cout_);
    scale_.resize(size_t(cout_));
    for (int64_t c = 0; c < cout_; ++c) scale_[size_t(c)] = float(double(xq_.scale) * ws[size_t(c)] / yq.scale);
    std::vector<int32_t> bq(size_t(cout_), 0);
    if (ctx.has_input(8)) {
      const ConstTensor& b = ctx.require_const(8, "B", spec::kI32);
      if (b.desc.numel() != cout_) ctx.fail("B must have Cout int32 values");
      const int32_t* p = static_cast<const int32_t*>(b.get());
      bq.assign(p, p + cout_);
    }
    const int8_t* wq = static_cast<const int8_t*>(w.get());
    const size_t taps = size_t(kh_ * kw_);
    if (depthwise_) {
      wdw_ = ctx.shared<std::vector<int16_t>>(3, "qconv.dw.nhwc", [&] {
        std::vector<int16_t> t(taps * size_t(cout_));
        for (int64_t c = 0; c < cout_; ++c)
          for (size_t k = 0; k < taps; ++k) t[k * size_t(cout_) + size_t(c)] = wq[size_t(c) * taps + k];
        return t;
      });
      bias_ = bq;
      return;
    }
    const size_t K = size_t(cing_) * taps;
    auto nk = [&] {
      std::vector<int8_t> t(K * size_t(cout_));  // [Cout][i][j][c]: im2col's column order
      for (int64_t o = 0; o < cout_; ++o)
        for (int64_t c = 0; c < cing_; ++c)
          for (size_t k = 0; k < taps; ++k) t[size_t(o) * K + k * size_t(cing_) + size_t(c)] = wq[(size_t(o * cing_ + c)) * taps + k];
      return t;
    };
    // a pruned weight: the sparse kernel, which reads only the nonzeros
    if (sparse_kernel("QLinearConv", w.desc.shape, ctx) && is_csr(ctx, 3))
      wt_.sparse = ctx.shared<qgemm::SparsePacked>(
          3, "qconv.B.nhwc.sparse", [&] { return qgemm::pack_sparse(nk().data(), size_t(cout_), K, k_.sqgemm); });
    else
      wt_.dense = ctx.packed<qgemm::Packed>(
          3, "qconv.B.nhwc", qgemm::Packed::layout_name(k_.qgemm),
          [&] {
            return taps == 1 ? qgemm::pack(wq, size_t(cout_), K, k_.qgemm)  // already [Cout][Cin]
                             : qgemm::pack(nk().data(), size_t(cout_), K, k_.qgemm);
          },
          [&](const uint8_t* p, uint64_t n) { return qgemm::view(p, n, size_t(cout_), K, k_.qgemm); });
    bias_ = wt_.fold_bias(bq.data(), xq_.zp);
  }

  bool reads_input(size_t i) const override { return i != 3 && i != 8; }  // packed / copied when created

  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    require_u8(*this, in[0], "x");
    const Shape& x = in[0].shape;
    if (x.size() != 4) fail("x must be 4-D NHWC, got " + shape_str(x));
    if (x[3] != cing_ * group_)
      fail("x has " + std::to_string(x[3]) + " channels, the weight expects " + std::to_string(cing_ * group_));
    n_ = x[0], h_ = x[1], w_ = x[2];
    o_ = conv_output(*this, a_, h_, w_, kh_, kw_, x);
    out[0] = {Shape{n_, o_.oh, o_.ow, cout_}, spec::kU8};
    direct_ = kh_ == 1 && kw_ == 1 && a_.strides[0] == 1 && a_.strides[1] == 1 && o_.pt + o_.pl + o_.pb + o_.pr == 0;
  }

  size_t workspace_bytes(const std::vector<TensorDesc>&, const std::vector<TensorDesc>&, int) const override {
    if (depthwise_ || direct_) return 0;
    return align64(im2col_rows() * kcol());
  }

  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const uint8_t* x = static_cast<const uint8_t*>(in[0]);
    uint8_t* y = static_cast<uint8_t*>(out[0]);
    if (depthwise_) return run_depthwise(ctx, x, y);
    const size_t K = size_t(cing_ * kh_ * kw_), P = size_t(o_.oh * o_.ow), C = size_t(cout_);
    if (direct_)
      return wt_.run(x, K, size_t(n_) * P, bias_.data(), scale_.data(), rq_, y, C, ctx.pool);
    // Blocks of output pixels, as the f32 Conv: the im2col rows of a block stay in L2 for the GEMM.
    const size_t rows = im2col_rows(), ld = kcol();
    uint8_t* col = static_cast<uint8_t*>(ctx.workspace);
    const Im2colNhwc g{cing_, kh_, kw_, h_, w_, o_.ow, a_.strides[0], a_.strides[1], a_.dil[0], a_.dil[1], o_.pt, o_.pl};
    for (int64_t n = 0; n < n_; ++n)
      for (size_t p0 = 0; p0 < P; p0 += rows) {
        const size_t pn = std::min(rows, P - p0);
        im2col_nhwc(ctx, g, x + size_t(n * h_ * w_ * cing_), p0, pn, col, ld, uint8_t(xq_.zp));
        wt_.run(col, ld, pn, bias_.data(), scale_.data(), rq_, y + (size_t(n) * P + p0) * C, C, ctx.pool,
               /*padded_a=*/true);
      }
  }

  std::string kernel() const override {
    if (depthwise_) return std::string("qdwconv-nhwc-") + k_.name;
    return std::string(direct_ ? "qconv1x1-nhwc-" : "qconv-nhwc-im2col-") + wt_.kind() + k_.name;
  }

 private:
  // im2col row length: K padded to the kernel's k groups (no byte-wise tail in the GEMM)
  size_t kcol() const { return depthwise_ ? size_t(cing_ * kh_ * kw_) : wt_.kp(); }
  // Output pixels per im2col block: ~128 KiB of rows, at least 64, at most all.
  size_t im2col_rows() const {
    return std::min(size_t(o_.oh * o_.ow), std::max<size_t>(64, (128u << 10) / kcol()));
  }

  void run_depthwise(const RunContext& ctx, const uint8_t* x, uint8_t* y) {
    const kernels::DwNhwcParams p{h_,     w_,   cout_, kh_, kw_, a_.strides[0], a_.strides[1], a_.dil[0], a_.dil[1],
                                  o_.pt, o_.pl, o_.oh, o_.ow, 0, cout_};
    const size_t in_img = size_t(h_ * w_ * cout_), out_img = size_t(o_.oh * o_.ow * cout_);
    parallel_dw_rows(ctx, n_, o_.oh, cout_, [&](size_t n, int64_t cb, int64_t ce, int64_t r0, int64_t r1) {
      kernels::DwNhwcParams q = p;
      q.cb = cb, q.ce = ce;
      k_.qdwconv_nhwc(q, x + n * in_img, xq_.zp, wdw_->data(), bias_.data(), scale_.data(), rq_, y + n * out_img, r0, r1);
    });
  }

  const kernels::Table& k_;
  int64_t cout_, cing_, kh_, kw_, group_;
  bool depthwise_ = false, direct_ = false;
  ConvAttrs a_;
  ConvOut o_{};
  kernels::QParams xq_{};
  kernels::QRequant rq_{};
  std::vector<float> scale_;
  std::vector<int32_t> bias_;
  qgemm::Weight wt_;
  std::shared_ptr<const std::vector<int16_t>> wdw_;
  int64_t n_ = 0, h_ = 0, w_ = 0;
};

}  // namespace

std::unique_ptr<Op> make_qlinear_conv(const NodeContext& ctx) { return std::make_unique<QLinearConv>(ctx); }

}  // namespace pyrt::ops
