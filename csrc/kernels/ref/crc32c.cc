// Table-driven CRC-32C (slicing by 8): the portable reference. The code is the format's own scalar truth
// (base/scalar_codecs.h), shared with csrc/format so that there is one copy.
#include "base/scalar_codecs.h"
#include "kernels/ref/ref.h"

namespace pyrt::kernels::ref {

uint32_t crc32c_update(uint32_t crc, const uint8_t* p, size_t n) { return scalar::crc32c_update(crc, p, n); }

}  // namespace pyrt::kernels::ref
