#include "ops/common.h"

#include <algorithm>

namespace pyrt::ops {

int64_t norm_axis(const Op& op, int64_t axis, size_t rank) {
  const int64_t r = int64_t(rank);
  if (axis < -r || axis >= r)
    op.fail("axis " + std::to_string(axis) + " out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + r : axis;
}

Shape broadcast(const Op& op, const Shape& a, const Shape& b) {
  const size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    const int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    const int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1)
      op.fail("shapes " + shape_str(a) + " and " + shape_str(b) + " cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  std::vector<int64_t> s(out.size(), 0);
  int64_t stride = 1;
  for (size_t k = 0; k < in.size(); ++k) {
    const size_t i = in.size() - 1 - k, o = out.size() - 1 - k;
    s[o] = in[i] == 1 ? 0 : stride;
    stride *= in[i];
  }
  return s;
}

static ActParams act_by_name(const NodeContext& ctx, const std::string& n) {
  ActParams a;
  if (n.empty() || n == "none") return a;
  if (n == "relu") a.act = Act::kRelu;
  else if (n == "relu6") a = {Act::kClip, 0.f, 6.f};
  else if (n == "clip") a = {Act::kClip, ctx.attr_float("activation_min", -3.4e38f), ctx.attr_float("activation_max", 3.4e38f)};
  else if (n == "leaky_relu") a = {Act::kLeakyRelu, ctx.attr_float("activation_alpha", 0.01f), 0.f};
  else if (n == "sigmoid") a.act = Act::kSigmoid;
  else if (n == "tanh") a.act = Act::kTanh;
  else if (n == "silu") a.act = Act::kSilu;
  else if (n == "hardsigmoid") a = {Act::kHardSigmoid, ctx.attr_float("activation_alpha", 0.2f), ctx.attr_float("activation_beta", 0.5f)};
  else if (n == "hardswish") a.act = Act::kHardSwish;
  else if (n == "gelu") a.act = Act::kGelu;
  else ctx.fail("unknown fused activation '" + n + "'");
  return a;
}

ActParams fused_activation(const NodeContext& ctx) { return act_by_name(ctx, ctx.attr_string("activation", "")); }

ActParams activation_for_op(const NodeContext& ctx) {
  const std::string& t = ctx.node().op_type;
  ActParams a;
  if (t == "Relu") a.act = Act::kRelu;
  else if (t == "Clip") a = {Act::kClip, ctx.attr_float("min", -3.4e38f), ctx.attr_float("max", 3.4e38f)};
  else if (t == "LeakyRelu") a = {Act::kLeakyRelu, ctx.attr_float("alpha", 0.01f), 0.f};
  else if (t == "Sigmoid") a.act = Act::kSigmoid;
  else if (t == "Tanh") a.act = Act::kTanh;
  else if (t == "Silu") a.act = Act::kSilu;
  else if (t == "HardSigmoid") a = {Act::kHardSigmoid, ctx.attr_float("alpha", 0.2f), ctx.attr_float("beta", 0.5f)};
  else if (t == "HardSwish") a.act = Act::kHardSwish;
  else if (t == "Gelu") a.act = ctx.attr_string("approximate", "none") == "tanh" ? Act::kGeluTanh : Act::kGelu;
  else if (t == "Exp") a.act = Act::kExp;
  else if (t == "Sqrt") a.act = Act::kSqrt;
  else if (t == "Neg") a.act = Act::kNeg;
  else if (t == "Abs") a.act = Act::kAbs;
  else if (t == "Erf") a.act = Act::kErf;
  else if (t == "Reciprocal") a.act = Act::kReciprocal;
  else if (t == "Sin") a.act = Act::kSin;
  else if (t == "Cos") a.act = Act::kCos;
  else if (t == "Log") a.act = Act::kLog;
  else if (t == "Floor") a.act = Act::kFloor;
  else if (t == "Ceil") a.act = Act::kCeil;
  else if (t == "Round") a.act = Act::kRound;
  else if (t == "Sign") a.act = Act::kSign;
  else if (t == "Softplus") a.act = Act::kSoftplus;
  else if (t == "Softsign") a.act = Act::kSoftsign;
  else if (t == "Elu") a = {Act::kElu, ctx.attr_float("alpha", 1.f), 0.f};
  else if (t == "Selu")
    a = {Act::kSelu, ctx.attr_float("alpha", 1.67326319217681884765625f), ctx.attr_float("gamma", 1.05070102214813232421875f)};
  else if (t == "Celu") {
    a = {Act::kCelu, ctx.attr_float("alpha", 1.f), 0.f};
    if (a.p0 == 0.f) ctx.fail("Celu's alpha must not be 0");
  } else if (t == "Mish") a.act = Act::kMish;
  else if (t == "ThresholdedRelu") a = {Act::kThresholdedRelu, ctx.attr_float("alpha", 1.f), 0.f};
  else if (t == "Acos") a.act = Act::kAcos;
  else if (t == "Acosh") a.act = Act::kAcosh;
  else if (t == "Asin") a.act = Act::kAsin;
  else if (t == "Asinh") a.act = Act::kAsinh;
  else if (t == "Atan") a.act = Act::kAtan;
  else if (t == "Atanh") a.act = Act::kAtanh;
  else if (t == "Cosh") a.act = Act::kCosh;
  else if (t == "Sinh") a.act = Act::kSinh;
  else if (t == "Tan") a.act = Act::kTan;
  else if (t == "Swish") a = {Act::kSwish, ctx.attr_float("alpha", 1.f), 0.f};
  else if (t == "Shrink") a = {Act::kShrink, ctx.attr_float("lambd", 0.5f), ctx.attr_float("bias", 0.f)};
  else if (t == "Identity" || t == "Dropout") a.act = Act::kNone;
  else ctx.fail("not an activation");
  return a;
}

std::vector<int64_t> const_ints(const NodeContext& ctx, size_t i, const char* what, const char* attr) {
  if (ctx.has_input(i)) {
    const ConstTensor& t = ctx.require_const(i, what);
    if (t.desc.dtype == spec::kI64) return std::vector<int64_t>(t.i64(), t.i64() + t.desc.numel());
    if (t.desc.dtype == spec::kI32) {
      const int32_t* p = static_cast<const int32_t*>(t.get());
      return std::vector<int64_t>(p, p + t.desc.numel());
    }
    ctx.fail(std::string(what) + " must be integers");
  }
  return ctx.attr_ints(attr);
}

namespace {
void require_plan_value(const Op& op, const TensorDesc& d, const char* what) {
  if (!d.value)
    op.fail(std::string(what) + " must be known when the plan is made: a constant, or computed only from input "
            "shapes and constants (here it depends on the data of a run)");
}
}  // namespace

std::vector<int64_t> plan_ints(const Op& op, const TensorDesc& d, const char* what) {
  require_plan_value(op, d, what);
  const int64_t n = d.numel();
  if (d.dtype == spec::kI64) return std::vector<int64_t>(static_cast<const int64_t*>(d.value), static_cast<const int64_t*>(d.value) + n);
  if (d.dtype == spec::kI32) return std::vector<int64_t>(static_cast<const int32_t*>(d.value), static_cast<const int32_t*>(d.value) + n);
  op.fail(std::string(what) + " must be integers (i64 or i32), got " + spec::dtype_name(d.dtype));
}

std::vector<float> plan_floats(const Op& op, const TensorDesc& d, const char* what) {
  require_plan_value(op, d, what);
  if (d.dtype != spec::kF32) op.fail(std::string(what) + " must be f32, got " + spec::dtype_name(d.dtype));
  return std::vector<float>(static_cast<const float*>(d.value), static_cast<const float*>(d.value) + d.numel());
}

const StringRef* plan_strings(const Op& op, const TensorDesc& d, const char* what) {
  require_plan_value(op, d, what);
  if (d.dtype != spec::kString) op.fail(std::string(what) + " must be strings, got " + spec::dtype_name(d.dtype));
  return static_cast<const StringRef*>(d.value);
}

IntsInput::IntsInput(const NodeContext& ctx, size_t i, const char* what, const char* attr) : i_(i), what_(what) {
  if (ctx.has_input(i) && !ctx.const_input(i)) {
    present_ = computed_ = true;
    return;
  }
  present_ = ctx.has_input(i) || (*attr && ctx.attr(attr));
  v_ = const_ints(ctx, i, what, attr);
}

}  // namespace pyrt::ops
