// ConstantOfShape: a tensor of the shape given by input 0 (known when the plan is made: a constant, or computed
// from input shapes, as an LSTM's zero state or an attention mask's shape is) filled with one value. ONNX keeps
// the value in a tensor attribute; the importer passes it as a one-element constant input 1 (default f32 0).
#include <cstring>

#include "ops/typed.h"

namespace pyrt::ops {
namespace {

class ConstantOfShape final : public Op {
 public:
  explicit ConstantOfShape(const NodeContext& ctx) {
    ctx.expect_inputs(1, 2);
    shape_in_ = IntsInput(ctx, 0, "shape", "");
    if (ctx.has_input(1)) {
      const ConstTensor& v = ctx.require_const(1, "value");
      if (v.desc.numel() != 1) ctx.fail("value must hold one element");
      dtype_ = v.desc.dtype;
      esize_ = spec::dtype_size(dtype_);
      if (!visit_dtype(dtype_, [](auto) {})) ctx.fail(std::string("value of dtype ") + spec::dtype_name(dtype_) + " is not supported");
      std::memcpy(value_, v.get(), esize_);
    }
  }
  bool plan_input(size_t i) const override { return i == 0; }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    const std::vector<int64_t>& s = shape_in_.at(*this, in);
    if (in[0].shape.size() > 1) fail("shape must be 1-D");
    for (int64_t d : s)
      if (d < 0) fail("shape has a negative dimension: " + shape_str(s));
    out[0] = {s, dtype_};
    n_ = size_t(numel(s));
  }
  bool reads_input(size_t) const override { return false; }
  void run(const RunContext&, const std::vector<const void*>&, const std::vector<void*>& out) override {
    uint8_t* y = static_cast<uint8_t*>(out[0]);
    if (esize_ == 4) {
      uint32_t v;
      std::memcpy(&v, value_, 4);
      std::fill_n(reinterpret_cast<uint32_t*>(y), n_, v);  // the arena is 64-byte aligned
      return;
    }
    for (size_t i = 0; i < n_; ++i) std::memcpy(y + i * esize_, value_, esize_);
  }
  std::string kernel() const override { return "fill"; }

 private:
  IntsInput shape_in_;
  uint8_t dtype_ = spec::kF32;
  size_t esize_ = 4, n_ = 0;
  alignas(8) uint8_t value_[8] = {};
};

}  // namespace

std::unique_ptr<Op> make_constant_of_shape(const NodeContext& ctx) { return std::make_unique<ConstantOfShape>(ctx); }

}  // namespace pyrt::ops
