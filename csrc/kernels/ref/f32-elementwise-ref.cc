// Scalar reference for elementwise kernels: activations and binary arithmetic.
#include <cmath>

#include "kernels/dispatch.h"
#include "kernels/ref/ref.h"

namespace pyrt::kernels::ref {
namespace {
// log(1 + exp(x)) without overflow: past 20 the 1 no longer changes a float (PyTorch's threshold too).
float softplus(float x) { return x > 20.f ? x : std::log1p(std::exp(x)); }
}  // namespace

float act_one(const ActParams& a, float x) {
  switch (a.act) {
    case Act::kNone: return x;
    case Act::kRelu: return x > 0.f ? x : 0.f;
    case Act::kClip: return std::fmin(std::fmax(x, a.p0), a.p1);
    case Act::kLeakyRelu: return x < 0.f ? a.p0 * x : x;
    case Act::kSigmoid: return 1.f / (1.f + std::exp(-x));
    case Act::kTanh: return std::tanh(x);
    case Act::kSilu: return x / (1.f + std::exp(-x));
    case Act::kHardSigmoid: return std::fmin(std::fmax(a.p0 * x + a.p1, 0.f), 1.f);
    case Act::kHardSwish: return x * std::fmin(std::fmax(x / 6.f + 0.5f, 0.f), 1.f);
    case Act::kGelu: return 0.5f * x * (1.f + std::erf(x * 0.70710678118654752f));
    case Act::kGeluTanh: {
      // 0.5 x (1 + tanh(u)) = x sigmoid(2u): the same function without 1 + tanh's cancellation for x < 0,
      // and the form the SIMD kernels compute
      const float u = 0.7978845608028654f * std::fma(0.044715f, x * x * x, x);  // one rounding, as the SIMD FMA
      return x / (1.f + std::exp(-2.f * u));
    }
    case Act::kExp: return std::exp(x);
    case Act::kSqrt: return std::sqrt(x);
    case Act::kNeg: return -x;
    case Act::kAbs: return std::fabs(x);
    case Act::kErf: return std::erf(x);
    case Act::kReciprocal: return 1.f / x;
    case Act::kSin: return std::sin(x);
    case Act::kCos: return std::cos(x);
    case Act::kLog: return std::log(x);
    case Act::kFloor: return std::floor(x);
    case Act::kCeil: return std::ceil(x);
    case Act::kRound: return std::nearbyint(x);  // the default rounding mode: to nearest, ties to even
    case Act::kSign: return x > 0.f ? 1.f : x < 0.f ? -1.f : x;  // 0 -> 0, NaN -> NaN
    case Act::kSoftplus: return softplus(x);
    case Act::kSoftsign: return x / (1.f + std::fabs(x));
    case Act::kElu: return x < 0.f ? a.p0 * std::expm1(x) : x;
    case Act::kSelu: return a.p1 * (x <= 0.f ? a.p0 * std::expm1(x) : x);
    case Act::kCelu: return std::fmax(0.f, x) + std::fmin(0.f, a.p0 * std::expm1(x / a.p0));
    case Act::kMish: return x * std::tanh(softplus(x));
    case Act::kThresholdedRelu: return x > a.p0 ? x : 0.f;
    case Act::kAcos: return std::acos(x);
    case Act::kAcosh: return std::acosh(x);
    case Act::kAsin: return std::asin(x);
    case Act::kAsinh: return std::asinh(x);
    case Act::kAtan: return std::atan(x);
    case Act::kAtanh: return std::atanh(x);
    case Act::kCosh: return std::cosh(x);
    case Act::kSinh: return std::sinh(x);
    case Act::kTan: return std::tan(x);
    case Act::kSwish: return x / (1.f + std::exp(-a.p0 * x));
    case Act::kShrink: return x < -a.p0 ? x + a.p1 : x > a.p0 ? x - a.p1 : 0.f;
    default: return x;
  }
}

void unary(const ActParams& a, const float* x, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] = act_one(a, x[i]);
}

static inline float bin_one(int op, float a, float b) {
  switch (op) {
    case kAdd: return a + b;
    case kSub: return a - b;
    case kMul: return a * b;
    case kDiv: return a / b;
    case kPow: return std::pow(a, b);
    case kMax: return std::fmax(a, b);
    case kMin: return std::fmin(a, b);
    case kPRelu: return a < 0.f ? b * a : a;
  }
  return 0.f;
}

void binary(int op, const float* a, size_t as, const float* b, size_t bs, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] = bin_one(op, a[i * as], b[i * bs]);
}

}  // namespace pyrt::kernels::ref
