#include "format/crc32c.h"

#include "kernels/dispatch.h"

namespace pyrt {
uint32_t crc32c(const void* data, size_t n) {
  return ~kernels::active().crc32c_update(0xFFFFFFFFu, static_cast<const uint8_t*>(data), n);
}
}  // namespace pyrt
