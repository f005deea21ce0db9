// DepthToSpace (modes DCR, CRD) and SpaceToDepth (ONNX): NCHW, blocksize b; the pixel shuffle of
// super-resolution networks. A pure permutation: elements are copied as bytes, any element type.
#include <cstring>

#include "ops/common.h"

namespace pyrt::ops {
namespace {

class DepthToSpace final : public Op {
 public:
  explicit DepthToSpace(const NodeContext& ctx) : to_space_(ctx.node().op_type == "DepthToSpace") {
    ctx.expect_inputs(1, 1);
    b_ = ctx.attr_int("blocksize", 0);
    if (b_ < 1 || b_ > kMaxWindow) ctx.fail("blocksize must be in [1, 2^20], got " + std::to_string(b_));
    const std::string mode = ctx.attr_string("mode", "DCR");
    if (mode != "DCR" && mode != "CRD") ctx.fail("mode must be DCR or CRD, got '" + mode + "'");
    crd_ = mode == "CRD";
  }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    const Shape& x = in[0].shape;
    if (x.size() != 4) fail("input must be 4-D (NCHW), got " + shape_str(x));
    const int64_t bb = b_ * b_;
    if (to_space_ && x[1] % bb) fail("channels (" + std::to_string(x[1]) + ") must be a multiple of blocksize^2");
    if (!to_space_ && (x[2] % b_ || x[3] % b_))
      fail("height and width " + shape_str({x[2], x[3]}) + " must be multiples of the blocksize");
    xs_ = x;
    out[0] = {to_space_ ? Shape{x[0], x[1] / bb, x[2] * b_, x[3] * b_} : Shape{x[0], x[1] * bb, x[2] / b_, x[3] / b_},
              in[0].dtype};
    esize_ = spec::dtype_size(in[0].dtype);
  }
  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const uint8_t* x = static_cast<const uint8_t*>(in[0]);
    uint8_t* y = static_cast<uint8_t*>(out[0]);
    const int64_t N = xs_[0], C = xs_[1], H = xs_[2], W = xs_[3], b = b_, e = int64_t(esize_);
    // Every (n, c, h, w) of the input goes to one place of the output.
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t h = 0; h < H; ++h)
          for (int64_t w = 0; w < W; ++w) {
            int64_t oc, oh, ow, OC, OH, OW;
            if (to_space_) {
              const int64_t cc = C / (b * b);  // DCR: c = (i * b + j) * cc + k; CRD: c = (k * b + i) * b + j
              const int64_t k = crd_ ? c / (b * b) : c % cc, ij = crd_ ? c % (b * b) : c / cc;
              oc = k, oh = h * b + ij / b, ow = w * b + ij % b, OC = cc, OH = H * b, OW = W * b;
            } else {  // input pixel (h, w) = (oh * b + i, ow * b + j) -> channel (i * b + j) * C + c (DCR),
                      // c * b * b + i * b + j (CRD, opset 28)
              const int64_t ij = (h % b) * b + (w % b);
              oc = crd_ ? c * b * b + ij : ij * C + c, oh = h / b, ow = w / b, OC = C * b * b, OH = H / b, OW = W / b;
            }
            std::memcpy(y + (((n * OC + oc) * OH + oh) * OW + ow) * e, x + (((n * C + c) * H + h) * W + w) * e,
                        size_t(e));
          }
  }
  std::string kernel() const override { return "permute-ref"; }

 private:
  bool to_space_, crd_ = false;
  int64_t b_ = 1;
  Shape xs_;
  size_t esize_ = 4;
};

}  // namespace

std::unique_ptr<Op> make_depth_to_space(const NodeContext& ctx) { return std::make_unique<DepthToSpace>(ctx); }

}  // namespace pyrt::ops
