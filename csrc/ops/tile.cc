// Tile (ONNX): the input repeated repeats[d] times along each dimension d (constant repeats, one per
// dimension, >= 0). Any element type; rows of the innermost dimension are copied whole.
#include <cstring>

#include "ops/common.h"

namespace pyrt::ops {
namespace {

class Tile final : public Op {
 public:
  explicit Tile(const NodeContext& ctx) {
    ctx.expect_inputs(2, 2);
    reps_in_ = IntsInput(ctx, 1, "repeats", "");
  }
  bool plan_input(size_t i) const override { return i == 1; }
  bool takes_strings() const override { return true; }  // moves elements by bytes
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    reps_ = reps_in_.at(*this, in);
    for (int64_t r : reps_)
      if (r < 0) fail("repeats must be >= 0, got " + shape_str(reps_));
    const Shape& x = in[0].shape;
    if (reps_.size() != x.size())
      fail("repeats has " + std::to_string(reps_.size()) + " values for an input of rank " + std::to_string(x.size()));
    Shape o(x.size());
    for (size_t d = 0; d < x.size(); ++d)
      if (__builtin_mul_overflow(x[d], reps_[d], &o[d])) fail("the output's dimension overflows");
    xs_ = x, os_ = o;
    esize_ = spec::dtype_size(in[0].dtype);
    out[0] = {o, in[0].dtype};
  }
  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const uint8_t* x = static_cast<const uint8_t*>(in[0]);
    uint8_t* y = static_cast<uint8_t*>(out[0]);
    const int64_t total = numel(os_), r = int64_t(os_.size());
    if (total == 0) return;
    if (r == 0) return (void)std::memcpy(y, x, esize_);
    const int64_t row = xs_[size_t(r - 1)];  // one input row, repeated along the last dimension
    std::vector<int64_t> idx(size_t(r - 1), 0);
    for (int64_t o = 0; o < total; o += os_[size_t(r - 1)]) {
      int64_t src = 0;  // the input row of this output row: each index modulo its input dimension
      for (int64_t d = 0; d < r - 1; ++d) src = src * xs_[size_t(d)] + idx[size_t(d)] % xs_[size_t(d)];
      uint8_t* dst = y + size_t(o) * esize_;
      for (int64_t k = 0; k < reps_[size_t(r - 1)]; ++k)
        std::memcpy(dst + size_t(k * row) * esize_, x + size_t(src * row) * esize_, size_t(row) * esize_);
      for (int64_t d = r - 1; d-- > 0;) {
        if (++idx[size_t(d)] < os_[size_t(d)]) break;
        idx[size_t(d)] = 0;
      }
    }
  }
  std::string kernel() const override { return "tile-ref"; }

 private:
  IntsInput reps_in_;
  std::vector<int64_t> reps_;
  Shape xs_, os_;
  size_t esize_ = 4;
};

}  // namespace

std::unique_ptr<Op> make_tile(const NodeContext& ctx) { return std::make_unique<Tile>(ctx); }

}  // namespace pyrt::ops
