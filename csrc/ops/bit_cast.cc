// BitCast (ONNX 26): the input's bytes read as another element type of the same width (attribute `to`, a
// TensorProto type); the shape is unchanged. bool is one byte here as in ONNX, but only 0 and 1 are bools, so a
// cast to bool is refused rather than producing other byte values.
#include <cstring>

#include "ops/typed.h"

namespace pyrt::ops {
namespace {

class BitCast final : public Op {
 public:
  explicit BitCast(const NodeContext& ctx) {
    ctx.expect_inputs(1, 1);
    const int64_t to = ctx.attr_int("to", -1);
    to_ = dtype_from_onnx(to);
    if (!to_) ctx.fail("attribute 'to' = " + std::to_string(to) + " is not a type the runtime stores");
    if (to_ == spec::kBool) ctx.fail("BitCast to bool is not supported (bytes other than 0 and 1 are no bools)");
  }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    if (spec::dtype_size(in[0].dtype) != spec::dtype_size(to_))
      fail(std::string("cannot bit-cast ") + spec::dtype_name(in[0].dtype) + " to " + spec::dtype_name(to_) +
           ": the widths differ");
    bytes_ = size_t(in[0].numel()) * spec::dtype_size(to_);
    out[0] = {in[0].shape, to_};
  }
  int inplace_input() const override { return 0; }
  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    if (out[0] != in[0]) std::memmove(out[0], in[0], bytes_);
  }
  std::string kernel() const override { return "bitcast-ref"; }

 private:
  uint8_t to_ = 0;
  size_t bytes_ = 0;
};

}  // namespace

std::unique_ptr<Op> make_bit_cast(const NodeContext& ctx) { return std::make_unique<BitCast>(ctx); }

}  // namespace pyrt::ops
