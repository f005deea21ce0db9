// Conv 3-D (NCDHW; the registry sends Conv here when the weight is 5-D): groups, strides, explicit pads
// (asymmetric) or VALID, dilations, bias, fused activation. Per image and group, im2col then the f32 GEMM with
// the weight packed once at load: Y_g[Cout/g, P] = W_g[Cout/g, Cin/g*kD*kH*kW] . col[K, P]. The column matrix
// of a whole volume is K x P floats (hundreds of MB for a 64-channel 32^3 volume), so it is built for a block
// of output voxels at a time, bounded by kColBytes, and the GEMM writes that block's columns of Y in place.
// A 1x1x1 kernel with stride 1 and no padding reads the input planes directly.
#include <algorithm>
#include <cstring>

#include "compute/gemm.h"
#include "ops/packed_weight.h"
#include "ops/window3d.h"

namespace pyrt::ops {
namespace {

constexpr size_t kColBytes = size_t(4) << 20;

class Conv3D final : public Op {
 public:
  explicit Conv3D(const NodeContext& ctx) : k_(ctx.kernels()) {
    ctx.expect_inputs(2, 3);
    const ConstTensor& w = ctx.require_const(1, "weight");
    if (w.desc.dtype != spec::kF32 || w.desc.shape.size() != 5)
      ctx.fail("weight must be a 5-D f32 tensor [Cout, Cin/group, kD, kH, kW], got " + shape_str(w.desc.shape));
    const Shape& ws = w.desc.shape;
    cout_ = ws[0], cing_ = ws[1];
    win_ = window3(ctx, {ws[2], ws[3], ws[4]});
    group_ = ctx.attr_int("group", 1);
    if (group_ < 1 || cout_ % group_)
      ctx.fail("group " + std::to_string(group_) + " does not divide Cout " + std::to_string(cout_));
    coutg_ = cout_ / group_;
    if (ctx.has_input(2)) {
      const ConstTensor& b = ctx.require_const(2, "bias", spec::kF32);
      if (b.desc.numel() != cout_) ctx.fail("bias must have Cout = " + std::to_string(cout_) + " values");
      bias_ = b.f32();
    }
    act_ = fused_activation(ctx);
    kdim_ = cing_ * win_.k[0] * win_.k[1] * win_.k[2];
    const size_t K = size_t(kdim_);
    for (int64_t g = 0; g < group_; ++g)
      packed_.push_back(panels_a(ctx, 1, "conv3d.A.g" + std::to_string(g) + "/" + std::to_string(group_), size_t(coutg_), K, [&] {
        return gemm::pack_a(k_, w.f32() + size_t(g * coutg_) * K, K, false, size_t(coutg_), K);
      }));
  }

  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    require_f32(*this, in[0], "input");
    const Shape& x = in[0].shape;
    if (x.size() != 5) fail("input must be 5-D NCDHW for a 5-D weight, got " + shape_str(x));
    if (x[1] != cing_ * group_)
      fail("input has " + std::to_string(x[1]) + " channels, the weight expects " + std::to_string(cing_ * group_));
    n_ = x[0];
    for (int i = 0; i < 3; ++i) {
      in_[i] = x[size_t(2 + i)];
      out_[i] = window_out(in_[i], win_.k[i], win_.s[i], win_.d[i], win_.p[i], win_.p[i + 3]);
      if (out_[i] < 0) fail("the kernel is larger than the padded input " + shape_str(x) + " along dimension " + std::to_string(2 + i));
    }
    out[0] = {{n_, cout_, out_[0], out_[1], out_[2]}, spec::kF32};
    P_ = out_[0] * out_[1] * out_[2];
    direct_ = win_.k == std::vector<int64_t>{1, 1, 1} && win_.s == std::vector<int64_t>{1, 1, 1} &&
              std::all_of(win_.p.begin(), win_.p.end(), [](int64_t v) { return v == 0; });
    // voxels per im2col block: the whole volume when it fits kColBytes, else a multiple of 64
    const int64_t fit = std::max<int64_t>(64, int64_t(kColBytes / 4) / std::max<int64_t>(kdim_, 1) / 64 * 64);
    block_ = direct_ ? P_ : std::min(P_, fit);
  }

  size_t workspace_bytes(const std::vector<TensorDesc>&, const std::vector<TensorDesc>&, int threads) const override {
    const size_t col = direct_ ? 0 : align64(size_t(kdim_ * block_) * 4);
    return col + gemm::workspace_size(size_t(coutg_), size_t(block_), size_t(kdim_), threads, gemm::Prepacked::kA);
  }

  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    // constants read at run through in[]: the session may have copied a small one out of the mapping since
    if (bias_) bias_ = static_cast<const float*>(in[2]);
    const float* x = static_cast<const float*>(in[0]);
    float* y = static_cast<float*>(out[0]);
    const size_t V = size_t(in_[0] * in_[1] * in_[2]), P = size_t(P_);
    float* col = static_cast<float*>(ctx.workspace);
    void* gws = static_cast<uint8_t*>(ctx.workspace) + (direct_ ? 0 : align64(size_t(kdim_ * block_) * 4));
    const bool fused = act_.act == Act::kNone || act_.act == Act::kRelu || act_.act == Act::kClip ||
                       act_.act == Act::kLeakyRelu;
    gemm::Epilogue ep;
    if (fused) ep.act = act_;
    ep.bias_kind = bias_ ? gemm::Epilogue::kPerRow : gemm::Epilogue::kNone;
    for (int64_t n = 0; n < n_; ++n)
      for (int64_t g = 0; g < group_; ++g) {
        const float* xg = x + size_t(n * group_ * cing_ + g * cing_) * V;
        float* yg = y + size_t(n * cout_ + g * coutg_) * P;
        ep.bias = bias_ ? bias_ + g * coutg_ : nullptr;
        if (direct_) {
          gemm::gemm_packed_a(k_, *packed_[size_t(g)], xg, P, P, yg, P, ep, ctx.pool, gws);
        } else {
          for (size_t p0 = 0; p0 < P; p0 += size_t(block_)) {
            const size_t pn = std::min(size_t(block_), P - p0);
            im2col(ctx, xg, p0, pn, col);
            gemm::gemm_packed_a(k_, *packed_[size_t(g)], col, pn, pn, yg + p0, P, ep, ctx.pool, gws);
          }
        }
        if (!fused)
          parallel(ctx, size_t(coutg_) * P, 1 << 14, [&](size_t b, size_t e, int) { k_.unary(act_, yg + b, yg + b, e - b); });
      }
  }

  std::string kernel() const override { return std::string(direct_ ? "conv3d-1x1-gemm-" : "conv3d-im2col-gemm-") + k_.name; }

 private:
  // col[((c*kD + a)*kH + b)*kW + e][q] = x[c][od*sd - pd + a*dd][oh*sh - ph + b*dh][ow*sw - pw + e*dw] for output
  // voxels p0 + q, q < pn (0 outside the input)
  void im2col(const RunContext& ctx, const float* x, size_t p0, size_t pn, float* col) const {
    const int64_t KD = win_.k[0], KH = win_.k[1], KW = win_.k[2];
    const int64_t D = in_[0], H = in_[1], W = in_[2], OH = out_[1], OW = out_[2];
    parallel(ctx, size_t(kdim_), 4, [&](size_t r0, size_t r1, int) {
      for (size_t r = r0; r < r1; ++r) {
        const int64_t c = int64_t(r) / (KD * KH * KW), t = int64_t(r) % (KD * KH * KW);
        const int64_t a = t / (KH * KW), b = (t / KW) % KH, e = t % KW;
        const float* xc = x + size_t(c * D * H * W);
        float* dst = col + r * pn;
        const int64_t od0 = int64_t(p0) / (OH * OW);
        int64_t oh = (int64_t(p0) / OW) % OH, ow = int64_t(p0) % OW, od = od0;
        for (size_t q = 0; q < pn; ++q) {
          const int64_t id = od * win_.s[0] - win_.p[0] + a * win_.d[0];
          const int64_t ih = oh * win_.s[1] - win_.p[1] + b * win_.d[1];
          const int64_t iw = ow * win_.s[2] - win_.p[2] + e * win_.d[2];
          dst[q] = (id >= 0 && id < D && ih >= 0 && ih < H && iw >= 0 && iw < W) ? xc[(id * H + ih) * W + iw] : 0.f;
          if (++ow == OW) {
            ow = 0;
            if (++oh == OH) oh = 0, ++od;
          }
        }
      }
    });
  }

  const kernels::Table& k_;
  Window3 win_;
  int64_t cout_, cing_, coutg_, group_ = 1, kdim_ = 0;
  const float* bias_ = nullptr;
  ActParams act_;
  std::vector<std::shared_ptr<const gemm::PackedA>> packed_;
  int64_t n_ = 0, in_[3] = {0, 0, 0}, out_[3] = {0, 0, 0}, P_ = 0, block_ = 1;
  bool direct_ = false;
};

}  // namespace

std::unique_ptr<Op> make_conv3d(const NodeContext& ctx) { return std::make_unique<Conv3D>(ctx); }

}  // namespace pyrt::ops
