// BitwiseAnd, BitwiseOr, BitwiseXor, BitShift (numpy broadcasting) and BitwiseNot (elementwise), on the integer
// types. A shift by the element's width or more, or by a negative amount, gives what the sign fill alone gives
// (ONNX 28): -1 for a right shift of a negative value, else 0 (C++ leaves these shifts undefined).
#include <type_traits>

#include "ops/typed.h"

namespace pyrt::ops {
namespace {

enum Kind { kAnd, kOr, kXor, kNot, kShl, kShr };

bool is_integer(uint8_t t) {
  switch (t) {
    case spec::kI8: case spec::kU8: case spec::kI16: case spec::kU16:
    case spec::kI32: case spec::kU32: case spec::kI64: case spec::kU64: return true;
    default: return false;
  }
}

class Bitwise final : public Op {
 public:
  explicit Bitwise(const NodeContext& ctx) {
    const std::string& t = ctx.node().op_type;
    if (t == "BitwiseNot") {
      kind_ = kNot;
    } else if (t == "BitShift") {
      const std::string d = ctx.attr_string("direction", "");
      if (d == "LEFT") kind_ = kShl;
      else if (d == "RIGHT") kind_ = kShr;
      else ctx.fail("direction must be LEFT or RIGHT, got '" + d + "'");
    } else {
      kind_ = t == "BitwiseAnd" ? kAnd : t == "BitwiseOr" ? kOr : kXor;
    }
    const size_t n = kind_ == kNot ? 1 : 2;
    ctx.expect_inputs(n, n);
  }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    std::vector<Shape> shapes;
    for (const TensorDesc& d : in) {
      if (!is_integer(d.dtype)) fail(std::string("inputs must be integers, got ") + spec::dtype_name(d.dtype));
      if (d.dtype != in[0].dtype)
        fail(std::string("inputs must have one element type, got ") + spec::dtype_name(in[0].dtype) + " and " +
             spec::dtype_name(d.dtype));
      shapes.push_back(d.shape);
    }
    dtype_ = in[0].dtype;
    walk_.plan(*this, shapes);
    out[0] = {walk_.out, dtype_};
  }
  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    visit_numeric(dtype_, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_integral_v<T>) {
        using U = std::make_unsigned_t<T>;  // shifts and logic on the bits: no signed overflow
        const T* a = static_cast<const T*>(in[0]);
        T* y = static_cast<T*>(out[0]);
        if (kind_ == kNot) return walk_.run([&](int64_t o, const int64_t* off) { y[o] = T(~U(a[off[0]])); });
        const T* b = static_cast<const T*>(in[1]);
        walk_.run([&](int64_t o, const int64_t* off) {
          const U x = U(a[off[0]]);
          const T s = b[off[1]];
          switch (kind_) {
            case kAnd: y[o] = T(x & U(s)); break;
            case kOr: y[o] = T(x | U(s)); break;
            case kXor: y[o] = T(x ^ U(s)); break;
            default: {
              if (s < 0 || uint64_t(s) >= sizeof(T) * 8) {  // ONNX 28: only the sign fill is left
                y[o] = kind_ == kShr && a[off[0]] < T(0) ? T(-1) : T(0);
                break;
              }
              // RIGHT on a signed type shifts arithmetically (numpy's right_shift); LEFT drops the high bits
              if (kind_ == kShl) y[o] = T(U(x << s));
              else if (std::is_signed_v<T>) y[o] = T(a[off[0]] >> s);
              else y[o] = T(x >> s);
            }
          }
        });
      }
    });
  }
  std::string kernel() const override { return "bitwise-ref"; }

 private:
  Kind kind_ = kAnd;
  uint8_t dtype_ = spec::kI32;
  BroadcastWalk walk_;
};

}  // namespace

std::unique_ptr<Op> make_bitwise(const NodeContext& ctx) { return std::make_unique<Bitwise>(ctx); }

}  // namespace pyrt::ops
