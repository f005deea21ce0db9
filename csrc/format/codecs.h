// The primitive codecs the format reader uses for CRCs and decoding. The format's own scalar versions
// (base/scalar_codecs.h) are the default, so csrc/format is complete and correct without any kernels; the
// layer above installs faster ones (SSE4.2 / ARMv8 CRC, F16C / NEON conversion: core/kernel_codecs.h) with
// set_codecs(). Every version must give the scalar one's exact bits.
#pragma once
#include <cstddef>
#include <cstdint>

namespace pyrt {

struct Codecs {
  // The running CRC-32C (no initial or final inversion).
  uint32_t (*crc32c_update)(uint32_t crc, const uint8_t* p, size_t n);
  void (*f16_to_f32)(const uint16_t* in, float* out, size_t n);
  // out[i] = (q[i] - zp) * scale
  void (*dequant_i8)(const int8_t* q, size_t n, int32_t zp, float scale, float* out);
  // n values of a nibble stream, signed or unsigned minus zp, times scale.
  void (*dequant_i4)(const uint8_t* packed, size_t n, bool is_signed, int32_t zp, float scale, float* out);
};

const Codecs& scalar_codecs();
// The installed codecs, else the scalar ones.
const Codecs& codecs();
// Installs `c` (which must outlive every model: a static table) for all models; nullptr restores the scalar
// codecs. Thread-safe; models opened or decoded after the call use it.
void set_codecs(const Codecs* c);

}  // namespace pyrt
