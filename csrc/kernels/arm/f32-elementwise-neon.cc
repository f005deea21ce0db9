// NEON elementwise kernels: activations and binary arithmetic, 4 floats per step (8 per loop iteration).
// The piecewise-linear and sign functions, sqrt and the binary operators match the reference bit for bit
// (same operations; FMAXNM/FMINNM are C's fmax/fmin). exp, sigmoid, silu and tanh go through exp4() below:
// within ~2 ulp (about 2e-7 relative) of the reference. GELU (erf) and the tanh form of GELU, and pow, have
// no vector form here and use the scalar reference, so every function is always available.
#include <arm_neon.h>

#include "kernels/arm/arm.h"
#include "kernels/dispatch.h"
#include "kernels/ref/ref.h"

namespace pyrt::kernels::arm {
namespace {

// exp(x) = 2^n exp(r), n = round(x / ln 2), r = x - n ln 2 in [-ln2/2, ln2/2] (ln 2 in two parts: n * hi
// is exact for |n| <= 2^8, so r keeps its low bits). exp(r) by its Taylor series to r^7/7!: the truncation
// is below 6e-9 relative. x is clamped to [-104, 89]: below, exp(x) rounds to 0 in f32, above, to inf.
// 2^n is applied as two factors 2^h 2^(n-h), h = floor(n/2), both normal floats for n in [-150, 128]: the
// product is exact until its last multiply, which rounds once into the subnormal range or overflows to inf.
// NaN stays NaN (FMAX/FMIN propagate it).
inline float32x4_t exp4(float32x4_t x) {
  x = vminq_f32(vmaxq_f32(x, vdupq_n_f32(-104.f)), vdupq_n_f32(89.f));
  const float32x4_t n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(1.44269504088896341f)));
  float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693145751953125f));  // ln 2 high part, 16 significant bits
  r = vfmsq_f32(r, n, vdupq_n_f32(1.428606765330187e-06f));         // ln 2 - high part
  float32x4_t p = vdupq_n_f32(1.f / 5040.f);
  p = vfmaq_f32(vdupq_n_f32(1.f / 720.f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.f / 120.f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.f / 24.f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.f / 6.f), p, r);
  p = vfmaq_f32(vdupq_n_f32(0.5f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.f), p, r);
  const int32x4_t ni = vcvtq_s32_f32(n);
  const int32x4_t h = vshrq_n_s32(ni, 1);
  const int32x4_t bias = vdupq_n_s32(127);
  const float32x4_t s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(h, bias), 23));
  const float32x4_t s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(vsubq_s32(ni, h), bias), 23));
  return vmulq_f32(vmulq_f32(p, s1), s2);
}

inline float32x4_t sigmoid4(float32x4_t x) {
  const float32x4_t one = vdupq_n_f32(1.f);
  return vdivq_f32(one, vaddq_f32(one, exp4(vnegq_f32(x))));
}

// tanh |x| for |x| < 0.5 by its Taylor series to x^15 (the next term is < 1e-8 relative), above as
// (1 - e) / (1 + e), e = exp(-2|x|) <= 1/e (no cancellation); then the sign of x is put back (so -0 stays -0).
inline float32x4_t tanh4(float32x4_t x) {
  const float32x4_t ax = vabsq_f32(x), one = vdupq_n_f32(1.f);
  const float32x4_t x2 = vmulq_f32(ax, ax);
  float32x4_t p = vdupq_n_f32(-929569.f / 638512875.f);
  p = vfmaq_f32(vdupq_n_f32(21844.f / 6081075.f), p, x2);
  p = vfmaq_f32(vdupq_n_f32(-1382.f / 155925.f), p, x2);
  p = vfmaq_f32(vdupq_n_f32(62.f / 2835.f), p, x2);
  p = vfmaq_f32(vdupq_n_f32(-17.f / 315.f), p, x2);
  p = vfmaq_f32(vdupq_n_f32(2.f / 15.f), p, x2);
  p = vfmaq_f32(vdupq_n_f32(-1.f / 3.f), p, x2);
  const float32x4_t small = vfmaq_f32(ax, vmulq_f32(x2, ax), p);
  const float32x4_t e = exp4(vmulq_f32(ax, vdupq_n_f32(-2.f)));
  const float32x4_t large = vdivq_f32(vsubq_f32(one, e), vaddq_f32(one, e));
  const float32x4_t t = vbslq_f32(vcgeq_f32(ax, vdupq_n_f32(0.5f)), large, small);
  return vbslq_f32(vdupq_n_u32(0x80000000u), x, t);
}

template <typename F>
void map(const float* x, float* y, size_t n, F f, const ActParams& a) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const float32x4_t v0 = vld1q_f32(x + i), v1 = vld1q_f32(x + i + 4);
    vst1q_f32(y + i, f(v0));
    vst1q_f32(y + i + 4, f(v1));
  }
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, f(vld1q_f32(x + i)));
  ref::unary(a, x + i, y + i, n - i);
}

}  // namespace

void unary_neon(const ActParams& a, const float* x, float* y, size_t n) {
  const float32x4_t zero = vdupq_n_f32(0.f), one = vdupq_n_f32(1.f);
  const float32x4_t p0 = vdupq_n_f32(a.p0), p1 = vdupq_n_f32(a.p1);
  switch (a.act) {
    case Act::kNone:
      if (x != y) map(x, y, n, [](float32x4_t v) { return v; }, a);
      return;
    case Act::kRelu:  // x > 0 ? x : 0 (NaN -> 0, as the reference; FMAX would return NaN)
      return map(x, y, n, [&](float32x4_t v) { return vbslq_f32(vcgtq_f32(v, zero), v, zero); }, a);
    case Act::kClip: return map(x, y, n, [&](float32x4_t v) { return vminnmq_f32(vmaxnmq_f32(v, p0), p1); }, a);
    case Act::kLeakyRelu:
      return map(x, y, n, [&](float32x4_t v) { return vbslq_f32(vcltq_f32(v, zero), vmulq_f32(v, p0), v); }, a);
    case Act::kSigmoid: return map(x, y, n, [](float32x4_t v) { return sigmoid4(v); }, a);
    case Act::kSilu:  // x / (1 + exp(-x)), one rounding less than x * sigmoid(x)
      return map(x, y, n, [&](float32x4_t v) { return vdivq_f32(v, vaddq_f32(one, exp4(vnegq_f32(v)))); }, a);
    case Act::kTanh: return map(x, y, n, [](float32x4_t v) { return tanh4(v); }, a);
    case Act::kHardSigmoid:
      return map(x, y, n, [&](float32x4_t v) { return vminnmq_f32(vmaxnmq_f32(vfmaq_f32(p1, v, p0), zero), one); },
                 a);
    case Act::kHardSwish:
      return map(x, y, n, [&](float32x4_t v) {
        const float32x4_t g = vaddq_f32(vdivq_f32(v, vdupq_n_f32(6.f)), vdupq_n_f32(0.5f));
        return vmulq_f32(v, vminnmq_f32(vmaxnmq_f32(g, zero), one));
      }, a);
    case Act::kGeluTanh:  // x sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3): as the reference
      return map(x, y, n, [](float32x4_t v) {
        // the reference's roundings, FMA included: exp magnifies any difference in u
        const float32x4_t v3 = vmulq_f32(vmulq_f32(v, v), v);
        const float32x4_t u = vmulq_n_f32(vfmaq_n_f32(v, v3, 0.044715f), 0.7978845608028654f);
        return vdivq_f32(v, vaddq_f32(vdupq_n_f32(1.f), exp4(vmulq_n_f32(u, -2.f))));
      }, a);
    case Act::kExp: return map(x, y, n, [](float32x4_t v) { return exp4(v); }, a);
    case Act::kSqrt: return map(x, y, n, [](float32x4_t v) { return vsqrtq_f32(v); }, a);
    case Act::kNeg: return map(x, y, n, [](float32x4_t v) { return vnegq_f32(v); }, a);
    case Act::kAbs: return map(x, y, n, [](float32x4_t v) { return vabsq_f32(v); }, a);
    default: return ref::unary(a, x, y, n);
  }
}

void binary_neon(int op, const float* a, size_t as, const float* b, size_t bs, float* y, size_t n) {
  if (op == kPow || op > kMin || (as != 0 && as != 1) || (bs != 0 && bs != 1)) return ref::binary(op, a, as, b, bs, y, n);
  auto ld = [](const float* p, size_t step, size_t i) { return step ? vld1q_f32(p + i) : vdupq_n_f32(*p); };
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float32x4_t va = ld(a, as, i), vb = ld(b, bs, i);
    float32x4_t r;
    switch (op) {
      case kAdd: r = vaddq_f32(va, vb); break;
      case kSub: r = vsubq_f32(va, vb); break;
      case kMul: r = vmulq_f32(va, vb); break;
      case kDiv: r = vdivq_f32(va, vb); break;
      case kMax: r = vmaxnmq_f32(va, vb); break;  // fmax: a NaN operand loses to a number
      default: r = vminnmq_f32(va, vb); break;
    }
    vst1q_f32(y + i, r);
  }
  ref::binary(op, a + i * as, as, b + i * bs, bs, y + i, n - i);
}

}  // namespace pyrt::kernels::arm
