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
  kCount
};

struct ActParams {
  Act act = Act::kNone;
  float p0 = 0.f, p1 = 0.f;
};

}  // namespace pyrt
