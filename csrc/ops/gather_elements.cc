// GatherElements (ONNX): y[i][j][k] = data[index][j][k] along `axis` (axis 0 shown), with index =
// indices[i][j][k]; the output has the indices' shape, each of its other dimensions at most the data's.
// Indices i64 or i32, negative ones count from the end; one out of range is an error naming it.
#include <cstring>

#include "ops/typed.h"

namespace pyrt::ops {
namespace {

class GatherElements final : public Op {
 public:
  explicit GatherElements(const NodeContext& ctx) {
    ctx.expect_inputs(2, 2);
    axis_ = ctx.attr_int("axis", 0);
  }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    ix_.plan(*this, in[0], in[1], axis_);
    esize_ = spec::dtype_size(in[0].dtype);
    out[0] = {in[1].shape, in[0].dtype};
  }
  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const uint8_t* data = static_cast<const uint8_t*>(in[0]);
    uint8_t* y = static_cast<uint8_t*>(out[0]);
    ix_.run(*this, in[1], [&](int64_t o, int64_t at) {
      std::memcpy(y + size_t(o) * esize_, data + size_t(at) * esize_, esize_);
    });
  }
  std::string kernel() const override { return "gather-elements-ref"; }

 private:
  int64_t axis_ = 0;
  AxisIndices ix_;
  size_t esize_ = 4;
};

}  // namespace

std::unique_ptr<Op> make_gather_elements(const NodeContext& ctx) { return std::make_unique<GatherElements>(ctx); }

}  // namespace pyrt::ops
