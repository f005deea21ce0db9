#pragma once
#include <cstddef>
#include <cstdint>

namespace pyrt {
// CRC-32C (SPEC §3.2) of n bytes, with the installed codecs (format/codecs.h): the CPU's CRC instructions once
// the layer above has installed them, else the scalar table.
uint32_t crc32c(const void* data, size_t n);
}  // namespace pyrt
