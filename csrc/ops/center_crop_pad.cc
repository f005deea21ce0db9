// CenterCropPad (ONNX 18): each of `axes` (default all) cropped or zero-padded to the length in input `shape`
// (known when the plan is made), centered; an odd difference puts the extra element at the end. Any element
// type.
#include <cstring>

#include "ops/typed.h"

namespace pyrt::ops {
namespace {

class CenterCropPad final : public Op {
 public:
  explicit CenterCropPad(const NodeContext& ctx) {
    ctx.expect_inputs(2, 2);
    shape_in_ = IntsInput(ctx, 1, "shape", "");
    axes_ = ctx.attr_ints("axes");
    all_axes_ = !ctx.attr("axes");
  }
  bool plan_input(size_t i) const override { return i == 1; }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    const Shape& s = in[0].shape;
    const size_t r = s.size();
    std::vector<int64_t> axes = axes_;
    if (all_axes_) for (size_t i = 0; i < r; ++i) axes.push_back(int64_t(i));
    const std::vector<int64_t>& len = shape_in_.at(*this, in);
    if (len.size() != axes.size())
      fail("shape has " + std::to_string(len.size()) + " values for " + std::to_string(axes.size()) + " axes");
    in_ = s, out_ = s;
    shift_.assign(r, 0);
    std::vector<bool> seen(r, false);
    for (size_t i = 0; i < axes.size(); ++i) {
      const size_t a = size_t(norm_axis(*this, axes[i], r));
      if (seen[a]) fail("axis " + std::to_string(axes[i]) + " is named twice");
      seen[a] = true;
      if (len[i] < 0 || len[i] > (int64_t(1) << 40)) fail("shape value " + std::to_string(len[i]) + " is out of range");
      out_[a] = len[i];
      shift_[a] = (s[a] - len[i]) / 2;  // source = output index + shift (a crop: > 0, a pad: < 0)
      if (len[i] > s[a]) shift_[a] = -((len[i] - s[a]) / 2);
    }
    int64_t total = 1;  // the output's size, checked before any product can overflow
    for (int64_t v : out_) {
      if (v && total > (int64_t(1) << 40) / v) fail("output " + shape_str(out_) + " is too large");
      total *= v;
    }
    elem_ = spec::dtype_size(in[0].dtype);
    out[0] = {out_, in[0].dtype};
  }
  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const uint8_t* x = static_cast<const uint8_t*>(in[0]);
    uint8_t* y = static_cast<uint8_t*>(out[0]);
    const size_t r = out_.size();
    const int64_t total = numel(out_);
    std::vector<int64_t> stride(r, 1), idx(r, 0);
    for (size_t d = r; d-- > 1;) stride[d - 1] = stride[d] * in_[d];
    for (int64_t o = 0; o < total; ++o) {
      int64_t off = 0;
      bool inside = true;
      for (size_t d = 0; d < r && inside; ++d) {
        const int64_t k = idx[d] + shift_[d];
        inside = k >= 0 && k < in_[d];
        off += k * stride[d];
      }
      if (inside) std::memcpy(y + size_t(o) * elem_, x + size_t(off) * elem_, elem_);
      else std::memset(y + size_t(o) * elem_, 0, elem_);
      for (size_t d = r; d-- > 0;) {
        if (++idx[d] < out_[d]) break;
        idx[d] = 0;
      }
    }
  }
  std::string kernel() const override { return "center-crop-pad-ref"; }

 private:
  IntsInput shape_in_;
  std::vector<int64_t> axes_, shift_;
  bool all_axes_ = true;
  Shape in_, out_;
  size_t elem_ = 4;
};

}  // namespace

std::unique_ptr<Op> make_center_crop_pad(const NodeContext& ctx) { return std::make_unique<CenterCropPad>(ctx); }

}  // namespace pyrt::ops
