// LookupTable (ours): y[i] = table[x[i]] for u8 x and a constant u8 table of 256 entries. How a quantized
// graph applies sigmoid, hard-swish, SiLU, tanh, GELU... between int8 layers: the exporter computes
// table[q] = quantize_y(f(dequantize_x(q))) once, so any elementwise function costs one byte load.
// Inputs: x (u8), table (u8 [256]).
#include "ops/quant_common.h"

namespace pyrt::ops {
namespace {

class LookupTable final : public Op {
 public:
  explicit LookupTable(const NodeContext& ctx) {
    ctx.expect_inputs(2, 2);
    const ConstTensor& t = ctx.require_const(1, "table", spec::kU8);
    if (t.desc.numel() != 256) ctx.fail("table must have 256 u8 entries, got " + shape_str(t.desc.shape));
    table_ = static_cast<const uint8_t*>(t.get());
  }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    require_u8(*this, in[0], "x");
    n_ = size_t(in[0].numel());
    out[0] = {in[0].shape, spec::kU8};
  }
  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    // constants read at run through in[]: the session may have copied a small one out of the mapping since
    table_ = static_cast<const uint8_t*>(in[1]);
    const uint8_t* x = static_cast<const uint8_t*>(in[0]);
    uint8_t* y = static_cast<uint8_t*>(out[0]);
    const uint8_t* t = table_;
    parallel(ctx, n_, 1 << 16, [&](size_t b, size_t e, int) {
      for (size_t i = b; i < e; ++i) y[i] = t[x[i]];
    });
  }
  int inplace_input() const override { return 0; }
  std::string kernel() const override { return "lut-u8"; }

 private:
  const uint8_t* table_ = nullptr;
  size_t n_ = 0;
};

}  // namespace

std::unique_ptr<Op> make_lookup_table(const NodeContext& ctx) { return std::make_unique<LookupTable>(ctx); }

}  // namespace pyrt::ops
