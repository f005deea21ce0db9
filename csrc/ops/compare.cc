// Equal, Less, Greater, LessOrEqual, GreaterOrEqual (ONNX): two inputs of one element type, numpy
// broadcasting, a bool output. f16 / bf16 are compared as their values; NaN compares false (as IEEE, numpy and ONNX).
// Equal also takes strings (opset 19): byte for byte.
#include <cstring>
#include <type_traits>

#include "base/scalar_codecs.h"
#include "ops/typed.h"

namespace pyrt::ops {
namespace {

enum Cmp { kEq, kLt, kGt, kLe, kGe };


class Compare final : public Op {
 public:
  explicit Compare(const NodeContext& ctx) {
    ctx.expect_inputs(2, 2);
    const std::string& t = ctx.node().op_type;
    cmp_ = t == "Equal" ? kEq : t == "Less" ? kLt : t == "Greater" ? kGt : t == "LessOrEqual" ? kLe : kGe;
  }
  bool takes_strings() const override { return cmp_ == kEq; }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    if (in[0].dtype != in[1].dtype)
      fail(std::string("inputs must have one element type, got ") + spec::dtype_name(in[0].dtype) + " and " +
           spec::dtype_name(in[1].dtype));
    dtype_ = in[0].dtype;
    walk_.plan(*this, {in[0].shape, in[1].shape});
    out[0] = {walk_.out, spec::kBool};
  }
  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    uint8_t* y = static_cast<uint8_t*>(out[0]);
    if (dtype_ == spec::kString) {
      const StringRef* a = static_cast<const StringRef*>(in[0]);
      const StringRef* b = static_cast<const StringRef*>(in[1]);
      walk_.run([&](int64_t o, const int64_t* off) {
        const StringRef &p = a[off[0]], &q = b[off[1]];
        y[o] = p.size == q.size && (!p.size || std::memcmp(p.data, q.data, size_t(p.size)) == 0);
      });
      return;
    }
    visit_dtype(dtype_, [&](auto tag) {
      using T = decltype(tag);
      const T* a = static_cast<const T*>(in[0]);
      const T* b = static_cast<const T*>(in[1]);
      walk_.run([&](int64_t o, const int64_t* off) {
        // integers compare exactly (int64 beyond 2^53 too); f16 and f32 by value
        bool r;
        if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BHalf>) r = test(to_float(a[off[0]]), to_float(b[off[1]]));
        else r = test(a[off[0]], b[off[1]]);
        y[o] = r;
      });
    });
  }
  std::string kernel() const override { return "compare-ref"; }

 private:
  template <typename V>
  bool test(V a, V b) const {
    switch (cmp_) {
      case kEq: return a == b;
      case kLt: return a < b;
      case kGt: return a > b;
      case kLe: return a <= b;
      default: return a >= b;
    }
  }
  Cmp cmp_;
  uint8_t dtype_ = spec::kF32;
  BroadcastWalk walk_;
};

}  // namespace

std::unique_ptr<Op> make_compare(const NodeContext& ctx) { return std::make_unique<Compare>(ctx); }

}  // namespace pyrt::ops
