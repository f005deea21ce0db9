// Cast (ONNX: attribute `to`, a TensorProto element type) and CastLike (the type of input 1) between f32, f64,
// f16, bf16, the 8- to 64-bit integers and bool. Floats to integers truncate toward zero (numpy's astype, ONNX Runtime); a NaN, an
// infinity or a value outside the integer type is an error naming the op and the value, not an undefined
// result. Integers narrow by wrapping (numpy), anything to bool is "not zero" (NaN is true), and f32 -> f16
// rounds to nearest even.
#include <cmath>
#include <limits>
#include <string>
#include <type_traits>

#include "base/scalar_codecs.h"
#include "kernels/ref/ref.h"
#include "ops/typed.h"

namespace pyrt::ops {
namespace {

class Cast final : public Op {
 public:
  explicit Cast(const NodeContext& ctx) {
    like_ = ctx.node().op_type == "CastLike";
    ctx.expect_inputs(like_ ? 2 : 1, like_ ? 2 : 1);
    if (!like_) {
      const int64_t to = ctx.attr_int("to", -1);
      to_ = dtype_from_onnx(to);
      if (!to_) ctx.fail("attribute 'to' = " + std::to_string(to) + " is not a type the runtime stores (float 1, "
                         "uint8 2, int8 3, uint16 4, int16 5, int32 6, int64 7, bool 9, float16 10, double 11, "
                         "uint32 12, uint64 13, bfloat16 16)");
    }
    if (ctx.attr_int("saturate", 1) != 1) ctx.fail("saturate=0 is for float8 types, which are not supported");
  }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    if (like_) to_ = in[1].dtype;
    from_ = in[0].dtype;
    n_ = in[0].numel();
    out[0] = {in[0].shape, to_};
  }
  int inplace_input() const override { return from_ == to_ ? 0 : -1; }
  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    visit_dtype(from_, [&](auto src_tag) {
      using S = decltype(src_tag);
      visit_dtype(to_, [&](auto dst_tag) {
        using D = decltype(dst_tag);
        const S* x = static_cast<const S*>(in[0]);
        D* y = static_cast<D*>(out[0]);
        for (int64_t i = 0; i < n_; ++i) y[i] = convert<S, D>(x[i]);
      });
    });
  }
  std::string kernel() const override { return "cast-ref"; }

 private:
  // f16 / bf16 travel as their bits: widen them first, narrow to them last.
  template <typename S>
  static constexpr bool is_half() { return std::is_same_v<S, Half> || std::is_same_v<S, BHalf>; }
  template <typename S>
  double widen(S v) const {
    if constexpr (is_half<S>()) return double(to_float(v));
    else return double(v);
  }
  template <typename S, typename D>
  D convert(S v) const {
    if constexpr (std::is_same_v<D, Half>) {
      return Half{kernels::ref::f32_to_f16_one(float(widen(v)))};
    } else if constexpr (std::is_same_v<D, BHalf>) {
      return to_bf16(float(widen(v)));
    } else {
      if (to_ == spec::kBool) {
        if constexpr (is_half<S>()) return D(widen(v) != 0.0);  // +-0 is false, NaN true
        else return D(v != S(0));
      }
      if constexpr (std::is_floating_point_v<D>) {
        return D(widen(v));
      } else {
        if constexpr (std::is_integral_v<S>) return D(v);  // integer -> integer: wraps when narrowing
        // float -> integer: truncate toward zero; NaN, infinities and values outside D are refused
        const double f = widen(v);
        const double t = std::trunc(f);
        // 2^63 and 2^64 are exact doubles: the top of int64 / uint64 is excluded by comparing against them
        const double top = std::is_same_v<D, int64_t> ? 9223372036854775808.0
                         : std::is_same_v<D, uint64_t> ? 18446744073709551616.0
                         : double(std::numeric_limits<D>::max()) + 1.0;
        if (!(t >= double(std::numeric_limits<D>::min()) && t < top))
          fail("cannot cast " + std::to_string(f) + " to " + spec::dtype_name(to_) + " (NaN, infinite or out of range)");
        return D(t);
      }
    }
  }

  bool like_ = false;
  uint8_t from_ = spec::kF32, to_ = spec::kF32;
  int64_t n_ = 0;
};

}  // namespace

std::unique_ptr<Op> make_cast(const NodeContext& ctx) { return std::make_unique<Cast>(ctx); }

}  // namespace pyrt::ops
