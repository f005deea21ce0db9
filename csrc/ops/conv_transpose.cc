// ConvTranspose (2-D, NCHW): strides, pads, output_padding, dilations, groups, bias, fused activation.
// Per image and group: col = W_g^T . X_g with the packed GEMM, then col2im scatters col into the output.
#include <algorithm>
#include <cstring>

#include "compute/gemm.h"
#include "ops/common.h"
#include "ops/packed_weight.h"

namespace pyrt::ops {
namespace {

class ConvTranspose final : public Op {
 public:
  explicit ConvTranspose(const NodeContext& ctx) : k_(ctx.kernels()) {
    ctx.expect_inputs(2, 3);
    const ConstTensor& w = ctx.require_const(1, "weight");
    if (w.desc.dtype != spec::kF32 || w.desc.shape.size() != 4)
      ctx.fail("weight must be a 4-D f32 tensor [Cin, Cout/group, kH, kW], got " + shape_str(w.desc.shape));
    cin_ = w.desc.shape[0], coutg_ = w.desc.shape[1], kh_ = w.desc.shape[2], kw_ = w.desc.shape[3];
    group_ = ctx.attr_int("group", 1);
    if (group_ < 1 || cin_ % group_) ctx.fail("group does not divide Cin");
    s_ = ctx.attr_ints("strides", {1, 1});
    d_ = ctx.attr_ints("dilations", {1, 1});
    p_ = ctx.attr_ints("pads", {0, 0, 0, 0});
    op_ = ctx.attr_ints("output_padding", {0, 0});
    out_shape_ = ctx.attr_ints("output_shape", {});
    if (!out_shape_.empty() && out_shape_.size() < 2) ctx.fail("output_shape needs at least the two spatial dims");
    auto_pad_ = ctx.attr_string("auto_pad", "NOTSET");
    if (auto_pad_ != "NOTSET" && auto_pad_ != "SAME_UPPER" && auto_pad_ != "SAME_LOWER" && auto_pad_ != "VALID")
      ctx.fail("unknown auto_pad '" + auto_pad_ + "'");
    if (s_.size() != 2 || d_.size() != 2 || p_.size() != 4 || op_.size() != 2) ctx.fail("strides/dilations/pads/output_padding must have 2/2/4/2 values");
    for (int64_t v : {s_[0], s_[1], d_[0], d_[1]})
      if (v < 1) ctx.fail("strides and dilations must be >= 1");
    if (ctx.has_input(2)) {
      const ConstTensor& b = ctx.require_const(2, "bias", spec::kF32);
      if (b.desc.numel() != coutg_ * group_) ctx.fail("bias must have Cout values");
      bias_ = b.f32();
    }
    act_ = fused_activation(ctx);
    const size_t cig = size_t(cin_ / group_), M = size_t(coutg_ * kh_ * kw_);
    for (int64_t g = 0; g < group_; ++g)  // A_g = W_g^T: W_g is [Cin/g, Cout/g*kh*kw] row-major
      packed_.push_back(panels_a(ctx, 1, "deconv.AT.g" + std::to_string(g) + "/" + std::to_string(group_), M, cig,
                                    [&] { return gemm::pack_a(k_, w.f32() + size_t(g) * cig * M, M, true, M, cig); }));
  }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    require_f32(*this, in[0], "input");
    const Shape& x = in[0].shape;
    if (x.size() != 4 || x[1] != cin_) fail("input must be [N, " + std::to_string(cin_) + ", H, W], got " + shape_str(x));
    n_ = x[0], h_ = x[2], w_ = x[3];
    pt_ = p_[0], pl_ = p_[1], pb_ = p_[2], pr_ = p_[3];
    const int64_t full_h = (h_ - 1) * s_[0] + d_[0] * (kh_ - 1) + 1 + op_[0];
    const int64_t full_w = (w_ - 1) * s_[1] + d_[1] * (kw_ - 1) + 1 + op_[1];
    if (!out_shape_.empty()) {  // pads derived from the requested output size (SAME_UPPER split)
      const int64_t th = out_shape_[out_shape_.size() - 2], tw = out_shape_.back();
      // a larger output_shape gives negative padding (ONNX's formula, division truncated): rows and columns
      // past the full result, which hold only the bias (col2im writes inside the output only)
      const int64_t ph = full_h - th, pw = full_w - tw;
      pt_ = ph / 2, pb_ = ph - pt_, pl_ = pw / 2, pr_ = pw - pl_;
    } else if (auto_pad_ == "VALID") {
      pt_ = pl_ = pb_ = pr_ = 0;
    } else if (auto_pad_ != "NOTSET") {  // SAME_*: output = input x stride; ONNX's split of the padding
      const int64_t ph = full_h - h_ * s_[0], pw = full_w - w_ * s_[1];
      if (ph < 0 || pw < 0) fail("auto_pad " + auto_pad_ + ": the output would need negative padding");
      const bool upper = auto_pad_ == "SAME_UPPER";
      pt_ = upper ? ph / 2 : ph - ph / 2, pb_ = ph - pt_;
      pl_ = upper ? pw / 2 : pw - pw / 2, pr_ = pw - pl_;
    }
    oh_ = full_h - pt_ - pb_;
    ow_ = full_w - pl_ - pr_;
    if (oh_ <= 0 || ow_ <= 0) fail("pads leave an empty output");
    out[0] = {{n_, coutg_ * group_, oh_, ow_}, spec::kF32};
  }
  size_t workspace_bytes(const std::vector<TensorDesc>&, const std::vector<TensorDesc>&, int threads) const override {
    const size_t M = size_t(coutg_ * kh_ * kw_), N = size_t(h_ * w_), K = size_t(cin_ / group_);
    return align64(M * N * 4) + gemm::workspace_size(M, N, K, threads, gemm::Prepacked::kA);
  }
  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    // constants read at run through in[]: the session may have copied a small one out of the mapping since
    if (bias_) bias_ = static_cast<const float*>(in[2]);
    const float* x = static_cast<const float*>(in[0]);
    float* y = static_cast<float*>(out[0]);
    const size_t M = size_t(coutg_ * kh_ * kw_), N = size_t(h_ * w_), cig = size_t(cin_ / group_);
    const size_t OHW = size_t(oh_ * ow_), cout = size_t(coutg_ * group_);
    float* col = static_cast<float*>(ctx.workspace);
    void* gws = static_cast<uint8_t*>(ctx.workspace) + align64(M * N * 4);
    for (int64_t n = 0; n < n_; ++n) {
      float* yn = y + size_t(n) * cout * OHW;
      for (size_t c = 0; c < cout; ++c) std::fill_n(yn + c * OHW, OHW, bias_ ? bias_[c] : 0.f);
      for (int64_t g = 0; g < group_; ++g) {
        const float* xg = x + (size_t(n) * size_t(cin_) + size_t(g) * cig) * N;
        gemm::gemm_packed_a(k_, *packed_[size_t(g)], xg, N, N, col, N, gemm::Epilogue{}, ctx.pool, gws);
        // col2im: channel-parallel, so no two threads write the same output
        parallel(ctx, size_t(coutg_), 1, [&](size_t c0, size_t c1, int) {
          for (size_t co = c0; co < c1; ++co) {
            float* yc = yn + (size_t(g * coutg_) + co) * OHW;
            for (int64_t i = 0; i < kh_; ++i)
              for (int64_t j = 0; j < kw_; ++j) {
                const float* cr = col + ((co * size_t(kh_) + size_t(i)) * size_t(kw_) + size_t(j)) * N;
                for (int64_t ih = 0; ih < h_; ++ih) {
                  const int64_t oy = ih * s_[0] - pt_ + i * d_[0];
                  if (oy < 0 || oy >= oh_) continue;
                  for (int64_t iw = 0; iw < w_; ++iw) {
                    const int64_t ox = iw * s_[1] - pl_ + j * d_[1];
                    if (ox >= 0 && ox < ow_) yc[oy * ow_ + ox] += cr[ih * w_ + iw];
                  }
                }
              }
          }
        });
      }
      if (act_.act != Act::kNone) k_.unary(act_, yn, yn, cout * OHW);
    }
  }
  std::string kernel() const override { return std::string("deconv-gemm-col2im-") + k_.name; }

 private:
  const kernels::Table& k_;
  int64_t cin_, coutg_, kh_, kw_, group_;
  std::vector<int64_t> s_, d_, p_, op_, out_shape_;
  const float* bias_ = nullptr;
  ActParams act_;
  std::string auto_pad_;  // NOTSET, SAME_UPPER, SAME_LOWER or VALID
  std::vector<std::shared_ptr<const gemm::PackedA>> packed_;
  int64_t n_ = 0, h_ = 0, w_ = 0, oh_ = 0, ow_ = 0, pt_ = 0, pl_ = 0, pb_ = 0, pr_ = 0;
};

}  // namespace

std::unique_ptr<Op> make_conv_transpose(const NodeContext& ctx) { return std::make_unique<ConvTranspose>(ctx); }

}  // namespace pyrt::ops
