// CRC-32C with the ARMv8 CRC32C{B,H,W,X} instructions (Castagnoli polynomial, reflected, as the reference).
// Optional in ARMv8.0, so this file is built with -march=armv8-a+crc and dispatch.cc calls it only when
// getauxval(AT_HWCAP) has HWCAP_CRC32. One stream of 8-byte steps; opening a model needs no more.
#include <arm_acle.h>

#include <cstring>

#include "kernels/arm/arm.h"

namespace pyrt::kernels::arm {

uint32_t crc32c_update_armv8(uint32_t crc, const uint8_t* p, size_t n) {
  while (n && (reinterpret_cast<uintptr_t>(p) & 7)) {
    crc = __crc32cb(crc, *p++);
    --n;
  }
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);  // little-endian load: byte order as the bytewise definition
    crc = __crc32cd(crc, v);
    p += 8;
    n -= 8;
  }
  if (n >= 4) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    crc = __crc32cw(crc, v);
    p += 4;
    n -= 4;
  }
  while (n--) crc = __crc32cb(crc, *p++);
  return crc;
}

}  // namespace pyrt::kernels::arm
