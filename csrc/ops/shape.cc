// Shape (ONNX, with start / end) and Size: the input's dimensions (a slice of them) or its element count, as
// int64. They read only the input's description, never its data.
#include <algorithm>

#include "ops/common.h"

namespace pyrt::ops {
namespace {

class ShapeOp final : public Op {
 public:
  explicit ShapeOp(const NodeContext& ctx) : size_(ctx.node().op_type == "Size") {
    ctx.expect_inputs(1, 1);
    start_ = ctx.attr_int("start", 0);
    end_ = ctx.attr_int("end", INT64_MAX);
  }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    const Shape& x = in[0].shape;
    if (size_) {
      values_ = {in[0].numel()};
      out[0] = {{}, spec::kI64};
      return;
    }
    const int64_t r = int64_t(x.size());
    auto clamp = [&](int64_t v) { return std::min(std::max(v < 0 ? v + r : v, int64_t(0)), r); };
    const int64_t b = clamp(start_), e = clamp(end_);
    values_.assign(x.begin() + b, x.begin() + std::max(b, e));
    out[0] = {{int64_t(values_.size())}, spec::kI64};
  }
  bool reads_input(size_t) const override { return false; }
  void run(const RunContext&, const std::vector<const void*>&, const std::vector<void*>& out) override {
    std::copy(values_.begin(), values_.end(), static_cast<int64_t*>(out[0]));
  }
  std::string kernel() const override { return "shape"; }

 private:
  bool size_;
  int64_t start_ = 0, end_ = INT64_MAX;
  std::vector<int64_t> values_;
};

}  // namespace

std::unique_ptr<Op> make_shape(const NodeContext& ctx) { return std::make_unique<ShapeOp>(ctx); }

}  // namespace pyrt::ops
