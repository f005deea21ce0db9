// GatherND (ONNX, batch_dims 0): indices [..., q] pick slices data[i0, ..., i(q-1)]; the output is the indices'
// leading shape followed by the slice's shape. Indices i64 (negative ones count from the end); one out of range
// is an error naming it. Any element type, slices copied whole.
#include <cstring>

#include "ops/common.h"

namespace pyrt::ops {
namespace {

class GatherND final : public Op {
 public:
  explicit GatherND(const NodeContext& ctx) {
    ctx.expect_inputs(2, 2);
    if (ctx.attr_int("batch_dims", 0) != 0) ctx.fail("batch_dims other than 0 is not supported");
  }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    const Shape &d = in[0].shape, &ix = in[1].shape;
    if (in[1].dtype != spec::kI64) fail(std::string("indices must be i64, got ") + spec::dtype_name(in[1].dtype));
    if (ix.empty() || d.empty()) fail("data and indices must have rank >= 1");
    q_ = ix.back();
    if (q_ < 1 || q_ > int64_t(d.size()))
      fail("the indices' last dimension (" + std::to_string(q_) + ") must be in [1, data rank " +
           std::to_string(d.size()) + "]");
    Shape o(ix.begin(), ix.end() - 1);
    slice_ = 1;
    for (size_t i = size_t(q_); i < d.size(); ++i) o.push_back(d[i]), slice_ *= d[i];
    ds_ = d;
    count_ = numel(ix) / q_;
    esize_ = spec::dtype_size(in[0].dtype);
    out[0] = {o, in[0].dtype};
  }
  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const uint8_t* data = static_cast<const uint8_t*>(in[0]);
    const int64_t* ix = static_cast<const int64_t*>(in[1]);
    uint8_t* y = static_cast<uint8_t*>(out[0]);
    const size_t bytes = size_t(slice_) * esize_;
    for (int64_t s = 0; s < count_; ++s) {
      int64_t at = 0;
      for (int64_t j = 0; j < q_; ++j) {
        const int64_t len = ds_[size_t(j)];
        int64_t k = ix[s * q_ + j];
        if (k < -len || k >= len)
          fail("index " + std::to_string(k) + " is out of range for dimension " + std::to_string(j) + " of size " +
               std::to_string(len));
        at = at * len + (k < 0 ? k + len : k);
      }
      std::memcpy(y + size_t(s) * bytes, data + size_t(at) * bytes, bytes);
    }
  }
  std::string kernel() const override { return "gather-nd-ref"; }

 private:
  int64_t q_ = 1, slice_ = 1, count_ = 0;
  Shape ds_;
  size_t esize_ = 4;
};

}  // namespace

std::unique_ptr<Op> make_gather_nd(const NodeContext& ctx) { return std::make_unique<GatherND>(ctx); }

}  // namespace pyrt::ops
