// Expand (ONNX): the input broadcast against a constant shape (numpy rules in both directions: the output
// is broadcast(input shape, shape)). Any element type, copied as bytes.
#include <cstring>

#include "ops/typed.h"

namespace pyrt::ops {
namespace {

class Expand final : public Op {
 public:
  explicit Expand(const NodeContext& ctx) {
    ctx.expect_inputs(2, 2);
    shape_in_ = IntsInput(ctx, 1, "shape", "");
  }
  bool plan_input(size_t i) const override { return i == 1; }
  bool takes_strings() const override { return true; }  // moves elements by bytes
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    shape_ = shape_in_.at(*this, in);
    for (int64_t d : shape_)
      if (d < 0) fail("shape has a negative dimension: " + shape_str(shape_));
    walk_.plan(*this, {in[0].shape, shape_});
    walk_.strides.pop_back();  // only the input is read
    esize_ = spec::dtype_size(in[0].dtype);
    out[0] = {walk_.out, in[0].dtype};
  }
  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const uint8_t* x = static_cast<const uint8_t*>(in[0]);
    uint8_t* y = static_cast<uint8_t*>(out[0]);
    const size_t e = esize_;
    walk_.run([&](int64_t o, const int64_t* off) { std::memcpy(y + size_t(o) * e, x + size_t(off[0]) * e, e); });
  }
  std::string kernel() const override { return "expand-ref"; }

 private:
  IntsInput shape_in_;
  Shape shape_;
  BroadcastWalk walk_;
  size_t esize_ = 4;
};

}  // namespace

std::unique_ptr<Op> make_expand(const NodeContext& ctx) { return std::make_unique<Expand>(ctx); }

}  // namespace pyrt::ops
