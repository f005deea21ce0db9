// ConvTranspose 3-D (NCDHW; the registry sends ConvTranspose here when the weight is 5-D): strides, explicit
// pads, output_padding, output_shape, dilations, groups, bias, fused activation. As the 2-D op: per image and
// group, col = W_g^T . X_g with the weight packed once (M = Cout/g*kD*kH*kW rows), then col2im adds each column
// into the output voxels it reaches. col is M x (input voxels), so it is made for a block of input voxels at a
// time (bounded by kColBytes); col2im runs over output channels in parallel, so no two threads write one voxel.
#include <algorithm>
#include <cstring>

#include "compute/gemm.h"
#include "ops/packed_weight.h"
#include "ops/window3d.h"

namespace pyrt::ops {
namespace {

constexpr size_t kColBytes = size_t(4) << 20;

class ConvTranspose3D final : public Op {
 public:
  explicit ConvTranspose3D(const NodeContext& ctx) : k_(ctx.kernels()) {
    ctx.expect_inputs(2, 3);
    const ConstTensor& w = ctx.require_const(1, "weight");
    if (w.desc.dtype != spec::kF32 || w.desc.shape.size() != 5)
      ctx.fail("weight must be a 5-D f32 tensor [Cin, Cout/group, kD, kH, kW], got " + shape_str(w.desc.shape));
    const Shape& ws = w.desc.shape;
    cin_ = ws[0], coutg_ = ws[1];
    win_ = window3(ctx, {ws[2], ws[3], ws[4]});
    group_ = ctx.attr_int("group", 1);
    if (group_ < 1 || cin_ % group_)
      ctx.fail("group " + std::to_string(group_) + " does not divide Cin " + std::to_string(cin_));
    opad_ = ctx.attr_ints("output_padding", {0, 0, 0});
    if (opad_.size() != 3) ctx.fail("output_padding must have 3 values for 3-D");
    for (int i = 0; i < 3; ++i)
      if (opad_[size_t(i)] < 0 || opad_[size_t(i)] >= std::max(win_.s[size_t(i)], win_.d[size_t(i)]))
        ctx.fail("output_padding must be >= 0 and smaller than the stride or the dilation");
    out_shape_ = ctx.attr_ints("output_shape", {});
    if (!out_shape_.empty() && out_shape_.size() != 3 && out_shape_.size() != 5)
      ctx.fail("output_shape must have 3 (spatial) or 5 values, got " + std::to_string(out_shape_.size()));
    if (ctx.has_input(2)) {
      const ConstTensor& b = ctx.require_const(2, "bias", spec::kF32);
      if (b.desc.numel() != coutg_ * group_) ctx.fail("bias must have Cout = " + std::to_string(coutg_ * group_) + " values");
      bias_ = b.f32();
    }
    act_ = fused_activation(ctx);
    const size_t cig = size_t(cin_ / group_), M = size_t(coutg_ * win_.k[0] * win_.k[1] * win_.k[2]);
    for (int64_t g = 0; g < group_; ++g)  // A_g = W_g^T: W_g is [Cin/g, M] row-major
      packed_.push_back(panels_a(ctx, 1, "deconv3d.AT.g" + std::to_string(g) + "/" + std::to_string(group_), M, cig,
                                    [&] { return gemm::pack_a(k_, w.f32() + size_t(g) * cig * M, M, true, M, cig); }));
  }

  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    require_f32(*this, in[0], "input");
    const Shape& x = in[0].shape;
    if (x.size() != 5 || x[1] != cin_)
      fail("input must be [N, " + std::to_string(cin_) + ", D, H, W] for a 5-D weight, got " + shape_str(x));
    n_ = x[0];
    for (int i = 0; i < 3; ++i) {
      in_[i] = x[size_t(2 + i)];
      if (in_[i] < 1) fail("input " + shape_str(x) + " has an empty spatial dimension");
      int64_t full;  // a dimension of 2^56 times a stride of 2^20 would overflow: checked, not wrapped
      if (__builtin_mul_overflow(in_[i] - 1, win_.s[i], &full) || full > (int64_t(1) << 56))
        fail("input " + shape_str(x) + " with stride " + std::to_string(win_.s[i]) + " gives too large an output");
      full += win_.d[i] * (win_.k[i] - 1) + 1 + opad_[size_t(i)];
      pb_[i] = win_.p[i];
      int64_t pe = win_.p[i + 3];
      if (!out_shape_.empty()) {  // pads from the requested size, the odd one at the end (as the 2-D op)
        const int64_t t = out_shape_[out_shape_.size() - 3 + size_t(i)], tot = full - t;
        if (t < 1 || tot < 0)
          fail("output_shape " + std::to_string(t) + " along dimension " + std::to_string(2 + i) +
               " is outside [1, " + std::to_string(full) + "]");
        pb_[i] = tot / 2, pe = tot - pb_[i];
      }
      out_[i] = full - pb_[i] - pe;
      if (out_[i] <= 0) fail("pads leave an empty output along dimension " + std::to_string(2 + i));
    }
    out[0] = {{n_, coutg_ * group_, out_[0], out_[1], out_[2]}, spec::kF32};
    const int64_t V = in_[0] * in_[1] * in_[2], M = coutg_ * win_.k[0] * win_.k[1] * win_.k[2];
    const int64_t fit = std::max<int64_t>(64, int64_t(kColBytes / 4) / std::max<int64_t>(M, 1) / 64 * 64);
    block_ = std::min(V, fit);
  }

  size_t workspace_bytes(const std::vector<TensorDesc>&, const std::vector<TensorDesc>&, int threads) const override {
    const size_t M = size_t(coutg_ * win_.k[0] * win_.k[1] * win_.k[2]), K = size_t(cin_ / group_);
    return align64(M * size_t(block_) * 4) + gemm::workspace_size(M, size_t(block_), K, threads, gemm::Prepacked::kA);
  }

  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    // constants read at run through in[]: the session may have copied a small one out of the mapping since
    if (bias_) bias_ = static_cast<const float*>(in[2]);
    const float* x = static_cast<const float*>(in[0]);
    float* y = static_cast<float*>(out[0]);
    const size_t M = size_t(coutg_ * win_.k[0] * win_.k[1] * win_.k[2]), cig = size_t(cin_ / group_);
    const size_t V = size_t(in_[0] * in_[1] * in_[2]), OV = size_t(out_[0] * out_[1] * out_[2]);
    const size_t cout = size_t(coutg_ * group_);
    float* col = static_cast<float*>(ctx.workspace);
    void* gws = static_cast<uint8_t*>(ctx.workspace) + align64(M * size_t(block_) * 4);
    for (int64_t n = 0; n < n_; ++n) {
      float* yn = y + size_t(n) * cout * OV;
      for (size_t c = 0; c < cout; ++c) std::fill_n(yn + c * OV, OV, bias_ ? bias_[c] : 0.f);
      for (int64_t g = 0; g < group_; ++g) {
        const float* xg = x + (size_t(n) * size_t(cin_) + size_t(g) * cig) * V;
        for (size_t v0 = 0; v0 < V; v0 += size_t(block_)) {
          const size_t vn = std::min(size_t(block_), V - v0);
          gemm::gemm_packed_a(k_, *packed_[size_t(g)], xg + v0, V, vn, col, vn, gemm::Epilogue{}, ctx.pool, gws);
          parallel(ctx, size_t(coutg_), 1, [&](size_t c0, size_t c1, int) {
            for (size_t co = c0; co < c1; ++co) col2im(col, v0, vn, co, yn + (size_t(g * coutg_) + co) * OV);
          });
        }
      }
      if (act_.act != Act::kNone) k_.unary(act_, yn, yn, cout * OV);
    }
  }

  std::string kernel() const override { return std::string("deconv3d-gemm-col2im-") + k_.name; }

 private:
  // Adds the columns of output channel co (rows co*kD*kH*kW ...) for input voxels v0 + q into its volume yc.
  void col2im(const float* col, size_t v0, size_t vn, size_t co, float* yc) const {
    const int64_t KD = win_.k[0], KH = win_.k[1], KW = win_.k[2], H = in_[1], W = in_[2];
    const int64_t OD = out_[0], OH = out_[1], OW = out_[2];
    for (int64_t a = 0; a < KD; ++a)
      for (int64_t b = 0; b < KH; ++b)
        for (int64_t e = 0; e < KW; ++e) {
          const float* cr = col + ((int64_t(co) * KD + a) * KH * KW + b * KW + e) * int64_t(vn);
          int64_t id = int64_t(v0) / (H * W), ih = (int64_t(v0) / W) % H, iw = int64_t(v0) % W;
          for (size_t q = 0; q < vn; ++q) {
            const int64_t od = id * win_.s[0] - pb_[0] + a * win_.d[0];
            const int64_t oh = ih * win_.s[1] - pb_[1] + b * win_.d[1];
            const int64_t ow = iw * win_.s[2] - pb_[2] + e * win_.d[2];
            if (od >= 0 && od < OD && oh >= 0 && oh < OH && ow >= 0 && ow < OW) yc[(od * OH + oh) * OW + ow] += cr[q];
            if (++iw == W) {
              iw = 0;
              if (++ih == H) ih = 0, ++id;
            }
          }
        }
  }

  const kernels::Table& k_;
  Window3 win_;
  int64_t cin_, coutg_, group_ = 1;
  std::vector<int64_t> opad_, out_shape_;
  const float* bias_ = nullptr;
  ActParams act_;
  std::vector<std::shared_ptr<const gemm::PackedA>> packed_;
  int64_t n_ = 0, in_[3] = {0, 0, 0}, out_[3] = {0, 0, 0}, pb_[3] = {0, 0, 0}, block_ = 1;
};

}  // namespace

std::unique_ptr<Op> make_conv_transpose3d(const NodeContext& ctx) { return std::make_unique<ConvTranspose3D>(ctx); }

}  // namespace pyrt::ops
