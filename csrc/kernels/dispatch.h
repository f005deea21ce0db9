// Kernel tables and CPU feature detection. One table per ISA; the best one the CPU supports is picked once,
// at first use. PYRT_KERNELS=ref in the environment (or force_reference()) selects the scalar reference.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/activation.h"

namespace pyrt::kernels {

struct Table {
  const char* name;  // "ref", "avx2", ...
  // CRC-32C register update (no initial value / final XOR applied here).
  uint32_t (*crc32c_update)(uint32_t crc, const uint8_t* p, size_t n);
  // IEEE binary16 -> binary32, exact.
  void (*f16_to_f32)(const uint16_t* in, float* out, size_t n);
  // out[i] = float(q[i] - zp) * scale
  void (*dequant_i8)(const int8_t* q, size_t n, int32_t zp, float scale, float* out);
  // n (even) values from a nibble stream (low nibble first); signed: q in [-8, 7], else q - zp.
  void (*dequant_i4)(const uint8_t* packed, size_t n, bool is_signed, int32_t zp, float scale, float* out);
  // y[i] = act(x[i]) (x == y allowed)
  void (*unary)(const ActParams& a, const float* x, float* y, size_t n);
  // y[i] = a[i] op b[i]; a_step/b_step are 0 (broadcast a scalar) or 1 (x == y allowed)
  void (*binary)(int op, const float* a, size_t a_step, const float* b, size_t b_step, float* y, size_t n);
};

enum BinaryOp : int { kAdd = 0, kSub, kMul, kDiv, kPow, kMax, kMin };

struct CpuInfo {
  bool avx2 = false, fma = false, f16c = false, sse42 = false;
};

const CpuInfo& cpu();
const Table& reference();
const Table& active();          // the table run() uses
void force_reference(bool on);  // for debugging and tests

// Per-ISA tables; null when not compiled for this target.
const Table* avx2_table();

}  // namespace pyrt::kernels
