// EyeLike (ONNX): a 2-D tensor of the input's shape, ones on the diagonal shifted by k, zeros elsewhere.
// Attribute dtype (a TensorProto type) picks the output type, else the input's.
#include <cstring>
#include <type_traits>

#include "ops/typed.h"

namespace pyrt::ops {
namespace {

class EyeLike final : public Op {
 public:
  explicit EyeLike(const NodeContext& ctx) {
    ctx.expect_inputs(1, 1);
    if (ctx.attr("dtype")) {
      const int64_t t = ctx.attr_int("dtype", 0);
      to_ = dtype_from_onnx(t);
      if (!to_) ctx.fail("attribute 'dtype' = " + std::to_string(t) + " is not a type the runtime stores");
    }
    k_ = ctx.attr_int("k", 0);
    const int64_t far = int64_t(1) << 62;  // past any real dimension; keeps row + k from overflowing
    k_ = k_ > far ? far : k_ < -far ? -far : k_;
  }
  bool reads_input(size_t) const override { return false; }  // only its shape and type
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    if (in[0].shape.size() != 2) fail("input must be 2-D, got " + shape_str(in[0].shape));
    dtype_ = to_ ? to_ : in[0].dtype;
    shape_ = in[0].shape;
    out[0] = {shape_, dtype_};
  }
  void run(const RunContext&, const std::vector<const void*>&, const std::vector<void*>& out) override {
    const int64_t rows = shape_[0], cols = shape_[1];
    std::memset(out[0], 0, size_t(rows * cols) * spec::dtype_size(dtype_));
    visit_dtype(dtype_, [&](auto tag) {
      using T = decltype(tag);
      T one;
      if constexpr (std::is_same_v<T, Half>) one = Half{0x3C00};
      else if constexpr (std::is_same_v<T, BHalf>) one = BHalf{0x3F80};
      else one = T(1);
      T* y = static_cast<T*>(out[0]);
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t c = r + k_;
        if (c >= 0 && c < cols) y[r * cols + c] = one;
      }
    });
  }
  std::string kernel() const override { return "eyelike-ref"; }

 private:
  uint8_t to_ = 0, dtype_ = spec::kF32;
  int64_t k_ = 0;
  Shape shape_;
};

}  // namespace

std::unique_ptr<Op> make_eye_like(const NodeContext& ctx) { return std::make_unique<EyeLike>(ctx); }

}  // namespace pyrt::ops
