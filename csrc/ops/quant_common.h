// What the quantized operators share: per-tensor u8 parameters from constant inputs, per-channel weight scales,
// and the requantization clamp of a fused activation.
#pragma once
#include <cmath>
#include <string>
#include <vector>

#include "kernels/dispatch.h"
#include "ops/common.h"

namespace pyrt::ops {

// (scale, zero point) of a u8 tensor from constant inputs `si` (f32 scalar > 0) and `zi` (u8 scalar; absent = 0).
inline kernels::QParams qparams(const NodeContext& ctx, size_t si, size_t zi, const std::string& what) {
  const ConstTensor& s = ctx.require_const(si, (what + "_scale").c_str(), spec::kF32);
  if (s.desc.numel() != 1) ctx.fail(what + "_scale must be one value (per-tensor quantization), got " + shape_str(s.desc.shape));
  kernels::QParams q{s.f32()[0], 0};
  if (!(q.scale > 0.f) || !std::isfinite(q.scale)) ctx.fail(what + "_scale must be finite and > 0");
  if (ctx.has_input(zi)) {
    const ConstTensor& z = ctx.require_const(zi, (what + "_zero_point").c_str());
    if (z.desc.dtype != spec::kU8)
      ctx.fail(what + "_zero_point must be u8 (activations are unsigned 8-bit), got " + spec::dtype_name(z.desc.dtype));
    if (z.desc.numel() != 1) ctx.fail(what + "_zero_point must be one value");
    q.zp = *static_cast<const uint8_t*>(z.get());
  }
  return q;
}

// QParams of QuantizeLinear / DequantizeLinear: constant scale and zero point are read once at creation; a
// scale or zero point that is a graph input is read when the plan is made (plan_input), on every plan.
class PlanQParams {
 public:
  PlanQParams(const NodeContext& ctx, size_t si, size_t zi, const std::string& what) : si_(si), zi_(zi), what_(what) {
    s_rt_ = ctx.has_input(si) && !ctx.const_input(si);
    z_rt_ = ctx.has_input(zi) && !ctx.const_input(zi);
    if (s_rt_) {
      const ValueInfo* v = declared_input(ctx, si);
      if (v && v->dtype && v->dtype != spec::kF32) ctx.fail(what + "_scale must be f32, got " + spec::dtype_name(v->dtype));
      const int64_t n = declared_numel(v);
      if (n >= 0 && n != 1) ctx.fail(what + "_scale must be one value (per-tensor quantization), got " + shape_str(v->dims));
    }
    if (z_rt_) {
      const ValueInfo* v = declared_input(ctx, zi);
      if (v && v->dtype && v->dtype != spec::kU8)
        ctx.fail(what + "_zero_point must be u8 (activations are unsigned 8-bit), got " + spec::dtype_name(v->dtype));
      const int64_t n = declared_numel(v);
      if (n >= 0 && n != 1) ctx.fail(what + "_zero_point must be one value");
    }
    if (s_rt_ || z_rt_) {  // read the constant one of the pair here, the other per plan
      if (!s_rt_) q_.scale = qparams(ctx, si, ctx.num_inputs() + 1, what).scale;
      if (!z_rt_ && ctx.has_input(zi)) {
        const ConstTensor& z = ctx.require_const(zi, (what + "_zero_point").c_str());
        q_.zp = zero_point(z.desc, z.get(), [&](const std::string& m) { ctx.fail(m); });
      }
    } else {
      q_ = qparams(ctx, si, zi, what);
    }
  }
  bool plan_input(size_t i) const { return (i == si_ && s_rt_) || (i == zi_ && z_rt_); }
  // This plan's parameters (call from infer()).
  const kernels::QParams& at(const Op& op, const std::vector<TensorDesc>& in) {
    auto fail = [&](const std::string& m) { op.fail(m); };
    if (s_rt_) {
      const std::vector<float> s = plan_floats(op, in[si_], (what_ + "_scale").c_str());
      if (s.size() != 1) fail(what_ + "_scale must be one value (per-tensor quantization), got " + shape_str(in[si_].shape));
      if (!(s[0] > 0.f) || !std::isfinite(s[0])) fail(what_ + "_scale must be finite and > 0");
      q_.scale = s[0];
    }
    if (z_rt_) {
      if (!in[zi_].value) fail(what_ + "_zero_point must be known when the plan is made (here it depends on the data of a run)");
      q_.zp = zero_point(in[zi_], in[zi_].value, fail);
    }
    return q_;
  }
  const kernels::QParams& value() const { return q_; }

 private:
  template <typename F>
  uint8_t zero_point(const TensorDesc& d, const void* p, F fail) const {
    if (d.dtype != spec::kU8)
      fail(what_ + "_zero_point must be u8 (activations are unsigned 8-bit), got " + spec::dtype_name(d.dtype));
    if (d.numel() != 1) fail(what_ + "_zero_point must be one value");
    return *static_cast<const uint8_t*>(p);
  }
  size_t si_, zi_;
  std::string what_;
  bool s_rt_ = false, z_rt_ = false;
  kernels::QParams q_{};
};

// Per-output-channel weight scales (n values, or one for all), > 0; weight zero points must be 0 (symmetric).
inline std::vector<float> weight_scales(const NodeContext& ctx, size_t si, size_t zi, int64_t n) {
  const ConstTensor& s = ctx.require_const(si, "w_scale", spec::kF32);
  if (s.desc.numel() != 1 && s.desc.numel() != n)
    ctx.fail("w_scale must have 1 or " + std::to_string(n) + " values, got " + shape_str(s.desc.shape));
  std::vector<float> r(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    r[size_t(i)] = s.f32()[s.desc.numel() == 1 ? 0 : i];
    if (!(r[size_t(i)] > 0.f) || !std::isfinite(r[size_t(i)])) ctx.fail("w_scale values must be finite and > 0");
  }
  if (ctx.has_input(zi)) {
    const ConstTensor& z = ctx.require_const(zi, "w_zero_point", spec::kI8);
    const int8_t* zp = static_cast<const int8_t*>(z.get());
    for (int64_t i = 0; i < z.desc.numel(); ++i)
      if (zp[i] != 0) ctx.fail("w_zero_point must be 0 (weights are symmetric int8)");
  }
  return r;
}

// Output clamp of y (u8, params q) with the node's fused activation: none, relu, relu6 or clip.
inline kernels::QRequant requant_clamp(const NodeContext& ctx, kernels::QParams q) {
  const ActParams a = fused_activation(ctx);
  float lo = 0.f, hi = 255.f;
  auto quant = [&](float v) {
    const double t = std::nearbyint(double(v) / q.scale) + q.zp;
    return float(t < 0 ? 0 : t > 255 ? 255 : t);
  };
  if (a.act == Act::kRelu) lo = float(q.zp);
  else if (a.act == Act::kClip) lo = quant(a.p0), hi = quant(a.p1);
  else if (a.act != Act::kNone)
    ctx.fail("a quantized operator fuses only relu, relu6 and clip activations (others are table lookups)");
  return {lo - float(q.zp), hi - float(q.zp), q.zp, false};
}

inline void require_u8(const Op& op, const TensorDesc& d, const char* what) {
  if (d.dtype != spec::kU8) op.fail(std::string(what) + " must be u8, got " + spec::dtype_name(d.dtype));
}

}  // namespace pyrt::ops
