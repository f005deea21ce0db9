#pragma once
#include <cstddef>
#include <cstdint>

namespace pyrt {
// CRC-32C (SPEC §3.2) of n bytes, with the fastest kernel the CPU has.
uint32_t crc32c(const void* data, size_t n);
}  // namespace pyrt
