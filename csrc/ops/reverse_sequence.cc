// ReverseSequence (ONNX): for each batch entry b, the first sequence_lens[b] steps along time_axis reversed,
// the rest copied. time_axis and batch_axis are 0 and 1 (either order); any element type. A length outside
// [0, steps] is an error naming the node.
#include <cstring>

#include "ops/typed.h"

namespace pyrt::ops {
namespace {

class ReverseSequence final : public Op {
 public:
  explicit ReverseSequence(const NodeContext& ctx) {
    ctx.expect_inputs(2, 2);
    time_ = ctx.attr_int("time_axis", 0), batch_ = ctx.attr_int("batch_axis", 1);
    if (!((time_ == 0 && batch_ == 1) || (time_ == 1 && batch_ == 0)))
      ctx.fail("time_axis and batch_axis must be 0 and 1, got " + std::to_string(time_) + " and " +
               std::to_string(batch_));
  }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    const Shape& s = in[0].shape;
    if (s.size() < 2) fail("input must have rank >= 2, got " + shape_str(s));
    if (in[1].dtype != spec::kI64 && in[1].dtype != spec::kI32)
      fail(std::string("sequence_lens must be i64 or i32, got ") + spec::dtype_name(in[1].dtype));
    if (in[1].shape != Shape{s[size_t(batch_)]})
      fail("sequence_lens " + shape_str(in[1].shape) + " must have one entry per batch entry (" +
           std::to_string(s[size_t(batch_)]) + ")");
    shape_ = s, i64_ = in[1].dtype == spec::kI64;
    elem_ = spec::dtype_size(in[0].dtype);
    out[0] = in[0];
  }
  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const uint8_t* x = static_cast<const uint8_t*>(in[0]);
    uint8_t* y = static_cast<uint8_t*>(out[0]);
    const int64_t steps = shape_[size_t(time_)], batch = shape_[size_t(batch_)];
    const size_t row = size_t(numel(shape_) / (steps * batch > 0 ? steps * batch : 1)) * elem_;
    for (int64_t b = 0; b < batch; ++b) {
      const int64_t n = i64_ ? static_cast<const int64_t*>(in[1])[b] : static_cast<const int32_t*>(in[1])[b];
      if (n < 0 || n > steps)
        fail("sequence_lens[" + std::to_string(b) + "] = " + std::to_string(n) + " is outside [0, " +
             std::to_string(steps) + "]");
      for (int64_t t = 0; t < steps; ++t) {
        const int64_t src = t < n ? n - 1 - t : t;
        auto at = [&](int64_t step) { return size_t(time_ == 0 ? step * batch + b : b * steps + step) * row; };
        std::memcpy(y + at(t), x + at(src), row);
      }
    }
  }
  std::string kernel() const override { return "reverse-sequence-ref"; }

 private:
  int64_t time_ = 0, batch_ = 1;
  Shape shape_;
  bool i64_ = true;
  size_t elem_ = 4;
};

}  // namespace

std::unique_ptr<Op> make_reverse_sequence(const NodeContext& ctx) { return std::make_unique<ReverseSequence>(ctx); }

}  // namespace pyrt::ops
