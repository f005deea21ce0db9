// Mod (ONNX): the remainder of a / b with numpy broadcasting. fmod = 0 (integers only): the sign of the divisor
// (Python's %); fmod = 1: the sign of the dividend (C's fmod), required for floats. An integer division by
// zero is an error naming the node.
#include <cmath>
#include <type_traits>

#include "kernels/ref/ref.h"
#include "ops/typed.h"

namespace pyrt::ops {
namespace {

class Mod final : public Op {
 public:
  explicit Mod(const NodeContext& ctx) {
    ctx.expect_inputs(2, 2);
    fmod_ = ctx.attr_int("fmod", 0) != 0;
  }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    if (in[0].dtype != in[1].dtype)
      fail(std::string("inputs must have one element type, got ") + spec::dtype_name(in[0].dtype) + " and " +
           spec::dtype_name(in[1].dtype));
    dtype_ = in[0].dtype;
    if (dtype_ == spec::kBool) fail(std::string("unsupported type ") + spec::dtype_name(dtype_));
    const bool real = dtype_ == spec::kF32 || dtype_ == spec::kF64 || dtype_ == spec::kF16 || dtype_ == spec::kBF16;
    if (real && !fmod_) fail("floats need fmod = 1 (ONNX)");
    walk_.plan(*this, {in[0].shape, in[1].shape});
    out[0] = {walk_.out, dtype_};
  }
  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    if (dtype_ == spec::kF16) return run_half<Half>(in, out);
    if (dtype_ == spec::kBF16) return run_half<BHalf>(in, out);
    visit_numeric(dtype_, [&](auto tag) {
      using T = decltype(tag);
      const T* a = static_cast<const T*>(in[0]);
      const T* b = static_cast<const T*>(in[1]);
      T* y = static_cast<T*>(out[0]);
      walk_.run([&](int64_t o, const int64_t* off) {
        const T x = a[off[0]], d = b[off[1]];
        if constexpr (std::is_floating_point_v<T>) {
          y[o] = std::fmod(x, d);
        } else {
          if (d == 0) fail("integer division by zero");
          if (std::is_signed_v<T> && d == T(-1)) { y[o] = 0; return; }  // INT_MIN % -1 overflows in C++
          T r = T(x % d);
          if (!fmod_ && r != 0 && ((r < 0) != (d < 0))) r = T(r + d);  // the divisor's sign
          y[o] = r;
        }
      });
    });
  }
  std::string kernel() const override { return "mod-ref"; }

 private:
  template <typename H>  // f16 / bf16: fmod of the f32 values, rounded back (exact: fmod's result is representable)
  void run_half(const std::vector<const void*>& in, const std::vector<void*>& out) {
    const H* a = static_cast<const H*>(in[0]);
    const H* b = static_cast<const H*>(in[1]);
    H* y = static_cast<H*>(out[0]);
    walk_.run([&](int64_t o, const int64_t* off) {
      const float r = std::fmod(to_float(a[off[0]]), to_float(b[off[1]]));
      if constexpr (std::is_same_v<H, Half>) y[o] = Half{kernels::ref::f32_to_f16_one(r)};
      else y[o] = to_bf16(r);
    });
  }

  bool fmod_ = false;
  uint8_t dtype_ = spec::kI64;
  BroadcastWalk walk_;
};

}  // namespace

std::unique_ptr<Op> make_mod(const NodeContext& ctx) { return std::make_unique<Mod>(ctx); }

}  // namespace pyrt::ops
