#include "core/kernel_codecs.h"

#include "format/codecs.h"
#include "kernels/dispatch.h"

namespace pyrt {
namespace {
// Each call asks for the active table, so PYRT_KERNELS and kernels::force_reference() apply to the format's
// work as they do to everything else.
uint32_t crc32c_update(uint32_t crc, const uint8_t* p, size_t n) { return kernels::active().crc32c_update(crc, p, n); }
void f16_to_f32(const uint16_t* in, float* out, size_t n) { kernels::active().f16_to_f32(in, out, n); }
void dequant_i8(const int8_t* q, size_t n, int32_t zp, float scale, float* out) {
  kernels::active().dequant_i8(q, n, zp, scale, out);
}
void dequant_i4(const uint8_t* packed, size_t n, bool is_signed, int32_t zp, float scale, float* out) {
  kernels::active().dequant_i4(packed, n, is_signed, zp, scale, out);
}
const Codecs kKernelCodecs = {crc32c_update, f16_to_f32, dequant_i8, dequant_i4};
}  // namespace

void use_kernel_codecs() { set_codecs(&kKernelCodecs); }
}  // namespace pyrt
