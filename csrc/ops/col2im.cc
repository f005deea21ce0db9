// Col2Im (ONNX 18): the inverse of im2col, summing overlaps. input [N, C * prod(block_shape), L] with L the
// number of block positions; image_shape and block_shape (inputs known when the plan is made), dilations,
// pads and strides over any number of spatial dims. Output [N, C, *image_shape]. f32.
#include <algorithm>

#include "ops/common.h"

namespace pyrt::ops {
namespace {

class Col2Im final : public Op {
 public:
  explicit Col2Im(const NodeContext& ctx) {
    ctx.expect_inputs(3, 3);
    image_in_ = IntsInput(ctx, 1, "image_shape", "");
    block_in_ = IntsInput(ctx, 2, "block_shape", "");
    dil_ = ctx.attr_ints("dilations"), pads_ = ctx.attr_ints("pads"), strides_ = ctx.attr_ints("strides");
  }
  bool plan_input(size_t i) const override { return i == 1 || i == 2; }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    require_f32(*this, in[0], "input");
    img_ = image_in_.at(*this, in), blk_ = block_in_.at(*this, in);
    const size_t r = img_.size();
    if (r == 0 || blk_.size() != r) fail("image_shape and block_shape must have one (nonzero) length");
    d_ = dil_.empty() ? std::vector<int64_t>(r, 1) : dil_;
    s_ = strides_.empty() ? std::vector<int64_t>(r, 1) : strides_;
    p_ = pads_.empty() ? std::vector<int64_t>(2 * r, 0) : pads_;
    if (d_.size() != r || s_.size() != r || p_.size() != 2 * r)
      fail("dilations, strides and pads must match image_shape's rank");
    if (in[0].shape.size() != 3) fail("input must be 3-D [N, C * prod(block), L], got " + shape_str(in[0].shape));
    int64_t kprod = 1, blocks = 1, isz = 1;
    nb_.assign(r, 0);
    for (size_t i = 0; i < r; ++i) {
      if (img_[i] < 1 || img_[i] > kMaxWindow || blk_[i] < 1 || blk_[i] > kMaxWindow || d_[i] < 1 ||
          d_[i] > kMaxWindow || s_[i] < 1 || s_[i] > kMaxWindow || p_[i] < 0 || p_[i] > kMaxWindow ||
          p_[i + r] < 0 || p_[i + r] > kMaxWindow)
        fail("image_shape, block_shape, dilations, strides and pads must be in range");
      if (isz > (int64_t(1) << 40) / img_[i]) fail("image_shape is too large");
      isz *= img_[i];
      nb_[i] = (img_[i] + p_[i] + p_[i + r] - d_[i] * (blk_[i] - 1) - 1) / s_[i] + 1;
      if (nb_[i] < 1) fail("the block is larger than the padded image");
      if (kprod > (int64_t(1) << 40) / blk_[i] || blocks > (int64_t(1) << 40) / nb_[i])
        fail("block_shape or the block count is too large");
      kprod *= blk_[i], blocks *= nb_[i];
    }
    if (in[0].shape[1] % kprod) fail("input's dimension 1 is not a multiple of prod(block_shape)");
    if (in[0].shape[2] != blocks)
      fail("input's dimension 2 is " + std::to_string(in[0].shape[2]) + ", the blocks number " + std::to_string(blocks));
    n_ = in[0].shape[0], c_ = in[0].shape[1] / kprod, kprod_ = kprod, blocks_ = blocks;
    Shape o{n_, c_};
    for (int64_t v : img_) o.push_back(v);
    out[0] = {o, spec::kF32};
  }
  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const float* x = static_cast<const float*>(in[0]);
    float* y = static_cast<float*>(out[0]);
    const size_t r = img_.size();
    int64_t isz = 1;
    for (int64_t v : img_) isz *= v;
    std::fill_n(y, n_ * c_ * isz, 0.f);
    std::vector<int64_t> koff(r), bpos(r);
    for (int64_t n = 0; n < n_; ++n)
      for (int64_t c = 0; c < c_; ++c) {
        float* yp = y + (n * c_ + c) * isz;
        for (int64_t k = 0; k < kprod_; ++k) {
          for (size_t i = r, t = size_t(k); i-- > 0;) koff[i] = int64_t(t % size_t(blk_[i])), t /= size_t(blk_[i]);
          const float* xp = x + ((n * c_ + c) * kprod_ + k) * blocks_;
          for (int64_t b = 0; b < blocks_; ++b) {
            for (size_t i = r, t = size_t(b); i-- > 0;) bpos[i] = int64_t(t % size_t(nb_[i])), t /= size_t(nb_[i]);
            int64_t at = 0;
            bool inside = true;
            for (size_t i = 0; i < r && inside; ++i) {
              const int64_t q = bpos[i] * s_[i] - p_[i] + koff[i] * d_[i];
              inside = q >= 0 && q < img_[i];
              at = at * img_[i] + q;
            }
            if (inside) yp[at] += xp[b];
          }
        }
      }
  }
  std::string kernel() const override { return "col2im-ref"; }

 private:
  IntsInput image_in_, block_in_;
  std::vector<int64_t> dil_, pads_, strides_, img_, blk_, d_, s_, p_, nb_;
  int64_t n_ = 0, c_ = 0, kprod_ = 1, blocks_ = 1;
};

}  // namespace

std::unique_ptr<Op> make_col2im(const NodeContext& ctx) { return std::make_unique<Col2Im>(ctx); }

}  // namespace pyrt::ops
