// Activations that operators apply on their own (Relu, Sigmoid, ...) or fuse into conv/linear/add epilogues.
#pragma once
#include <cstdint>

namespace pyrt {

enum class Act : uint8_t {
  kNone = 0,
  kRelu,
  kClip,         // min(max(x, p0), p1): ReLU6 is Clip(0, 6)
  kLeakyRelu,    // x < 0 ? p0 * x : x
  kSigmoid,
  kTanh,
  kSilu,         // x * sigmoid(x)
  kHardSigmoid,  // clip(p0 * x + p1, 0, 1)   (ONNX defaults p0 = 0.2, p1 = 0.5; PyTorch 1/6, 0.5)
  kHardSwish,    // x * clip(x / 6 + 0.5, 0, 1)
  kGelu,         // 0.5 x (1 + erf(x / sqrt 2))   (exact form, as torch's default)
  kGeluTanh,     // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  kExp,
  kSqrt,
  kNeg,
  kAbs,
  kErf,
  // Unary math and activations of ONNX without a fused or SIMD form yet (the reference computes them; SIMD
  // tables fall back to it).
  kReciprocal,       // 1 / x
  kSin,
  kCos,
  kLog,
  kFloor,
  kCeil,
  kRound,            // to nearest, ties to even (ONNX Round)
  kSign,             // -1, 0 or 1 (NaN stays NaN)
  kSoftplus,         // log(1 + exp(x))
  kSoftsign,         // x / (1 + |x|)
  kElu,              // x < 0 ? p0 (exp(x) - 1) : x
  kSelu,             // p1 (x <= 0 ? p0 (exp(x) - 1) : x)
  kCelu,             // max(0, x) + min(0, p0 (exp(x / p0) - 1))
  kMish,             // x tanh(softplus(x))
  kThresholdedRelu,  // x > p0 ? x : 0
  kAcos,
  kAcosh,
  kAsin,
  kAsinh,
  kAtan,
  kAtanh,
  kCosh,
  kSinh,
  kTan,
  kSwish,            // x sigmoid(p0 x)
  kShrink,           // x < -p0 ? x + p1 : x > p0 ? x - p1 : 0   (p0 = lambd, p1 = bias)
  kCount
};

struct ActParams {
  Act act = Act::kNone;
  float p0 = 0.f, p1 = 0.f;
};

}  // namespace pyrt
