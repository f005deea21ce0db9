// Kernel tables and CPU feature detection. One table per ISA; the best one the CPU supports is picked once,
// at first use. PYRT_KERNELS=ref in the environment (or force_reference()) selects the scalar reference.
#pragma once
#include <cstddef>
#include <cstdint>

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
};

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
