// GatherElements (ONNX): y[i][j][k] = data[index][j][k] along `axis` (axis 0 shown), with index =
// indices[i][j][k]; the output has the indices' shape, each of its other dimensions at most the data's.
// Indices i64 or i32, negative ones count from the end; one out of range is an error naming it.
#include <cstring>

#include "ops/common.h"

namespace pyrt::ops {
namespace {

class GatherElements final : public Op {
 public:
  explicit GatherElements(const NodeContext& ctx) {
    ctx.expect_inputs(2, 2);
    axis_ = ctx.attr_int("axis", 0);
  }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    const Shape &d = in[0].shape, &ix = in[1].shape;
    if (in[1].dtype != spec::kI64 && in[1].dtype != spec::kI32)
      fail(std::string("indices must be i64 or i32, got ") + spec::dtype_name(in[1].dtype));
    if (d.size() != ix.size() || d.empty())
      fail("data " + shape_str(d) + " and indices " + shape_str(ix) + " must have one rank (>= 1)");
    a_ = size_t(norm_axis(*this, axis_, d.size()));
    for (size_t i = 0; i < d.size(); ++i)
      if (i != a_ && ix[i] > d[i]) fail("indices " + shape_str(ix) + " are larger than data " + shape_str(d) + " off the axis");
    ds_ = d, is_ = ix, i64_ = in[1].dtype == spec::kI64;
    esize_ = spec::dtype_size(in[0].dtype);
    out[0] = {ix, in[0].dtype};
  }
  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const uint8_t* data = static_cast<const uint8_t*>(in[0]);
    uint8_t* y = static_cast<uint8_t*>(out[0]);
    const size_t r = is_.size();
    std::vector<int64_t> dstride(r, 1), idx(r, 0);
    for (size_t i = r - 1; i-- > 0;) dstride[i] = dstride[i + 1] * ds_[i + 1];
    const int64_t total = numel(is_), len = ds_[a_];
    for (int64_t o = 0; o < total; ++o) {
      int64_t k = i64_ ? static_cast<const int64_t*>(in[1])[o] : static_cast<const int32_t*>(in[1])[o];
      if (k < -len || k >= len)
        fail("index " + std::to_string(k) + " is out of range for axis " + std::to_string(a_) + " of size " +
             std::to_string(len));
      if (k < 0) k += len;
      int64_t src = 0;
      for (size_t d = 0; d < r; ++d) src += (d == a_ ? k : idx[d]) * dstride[d];
      std::memcpy(y + size_t(o) * esize_, data + size_t(src) * esize_, esize_);
      for (size_t d = r; d-- > 0;) {
        if (++idx[d] < is_[d]) break;
        idx[d] = 0;
      }
    }
  }
  std::string kernel() const override { return "gather-elements-ref"; }

 private:
  int64_t axis_ = 0;
  size_t a_ = 0, esize_ = 4;
  Shape ds_, is_;
  bool i64_ = true;
};

}  // namespace

std::unique_ptr<Op> make_gather_elements(const NodeContext& ctx) { return std::make_unique<GatherElements>(ctx); }

}  // namespace pyrt::ops
