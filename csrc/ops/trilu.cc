// Trilu (ONNX): the upper (upper = 1, default) or lower triangle of the last two dimensions, k diagonals above
// (k > 0) or below the main one (constant input 1, default 0); the rest zero. Any element type.
#include <cstring>

#include "ops/common.h"

namespace pyrt::ops {
namespace {

class Trilu final : public Op {
 public:
  explicit Trilu(const NodeContext& ctx) {
    ctx.expect_inputs(1, 2);
    upper_ = ctx.attr_int("upper", 1) != 0;
    k_in_ = IntsInput(ctx, 1, "k", "");
  }
  bool plan_input(size_t i) const override { return i == 1; }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    if (k_in_.present()) {
      const std::vector<int64_t>& k = k_in_.at(*this, in);
      if (k.size() != 1) fail("k must be a scalar");
      k_ = k[0];
    }
    const Shape& x = in[0].shape;
    if (x.size() < 2) fail("input must have rank >= 2, got " + shape_str(x));
    rows_ = x[x.size() - 2], cols_ = x.back();
    mats_ = rows_ > 0 && cols_ > 0 ? numel(x) / (rows_ * cols_) : 0;
    esize_ = spec::dtype_size(in[0].dtype);
    out[0] = in[0];
  }
  int inplace_input() const override { return 0; }
  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const uint8_t* x = static_cast<const uint8_t*>(in[0]);
    uint8_t* y = static_cast<uint8_t*>(out[0]);
    const size_t e = esize_;
    for (int64_t m = 0; m < mats_; ++m)
      for (int64_t i = 0; i < rows_; ++i) {
        const size_t row = size_t((m * rows_ + i) * cols_) * e;
        for (int64_t j = 0; j < cols_; ++j) {
          const bool keep = upper_ ? j - i >= k_ : j - i <= k_;
          if (keep) std::memmove(y + row + size_t(j) * e, x + row + size_t(j) * e, e);
          else std::memset(y + row + size_t(j) * e, 0, e);
        }
      }
  }
  std::string kernel() const override { return "trilu-ref"; }

 private:
  IntsInput k_in_;
  bool upper_ = true;
  int64_t k_ = 0, rows_ = 0, cols_ = 0, mats_ = 0;
  size_t esize_ = 4;
};

}  // namespace

std::unique_ptr<Op> make_trilu(const NodeContext& ctx) { return std::make_unique<Trilu>(ctx); }

}  // namespace pyrt::ops
