// And, Or, Xor (ONNX: bool inputs, numpy broadcasting) and Not (bool, elementwise): bool outputs.
#include "ops/typed.h"

namespace pyrt::ops {
namespace {

class Logical final : public Op {
 public:
  explicit Logical(const NodeContext& ctx) : op_(ctx.node().op_type) {
    ctx.expect_inputs(op_ == "Not" ? 1 : 2, op_ == "Not" ? 1 : 2);
  }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    std::vector<Shape> shapes;
    for (const TensorDesc& d : in) {
      if (d.dtype != spec::kBool) fail(std::string("inputs must be bool, got ") + spec::dtype_name(d.dtype));
      shapes.push_back(d.shape);
    }
    walk_.plan(*this, shapes);
    out[0] = {walk_.out, spec::kBool};
  }
  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    uint8_t* y = static_cast<uint8_t*>(out[0]);
    const uint8_t* a = static_cast<const uint8_t*>(in[0]);
    if (op_ == "Not") return walk_.run([&](int64_t o, const int64_t* off) { y[o] = !a[off[0]]; });
    const uint8_t* b = static_cast<const uint8_t*>(in[1]);
    const int kind = op_ == "And" ? 0 : op_ == "Or" ? 1 : 2;
    walk_.run([&](int64_t o, const int64_t* off) {
      const bool x = a[off[0]], z = b[off[1]];
      y[o] = kind == 0 ? (x && z) : kind == 1 ? (x || z) : (x != z);
    });
  }
  std::string kernel() const override { return "logical-ref"; }

 private:
  std::string op_;
  BroadcastWalk walk_;
};

}  // namespace

std::unique_ptr<Op> make_logical(const NodeContext& ctx) { return std::make_unique<Logical>(ctx); }

}  // namespace pyrt::ops
