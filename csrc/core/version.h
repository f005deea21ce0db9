// The library's version (CMake's project version) and its C ABI's, for the C API and the Python bindings.
#pragma once

#include <cstdint>

namespace pyrt {

const char* version();
inline constexpr uint32_t kCAbiVersion = 1;  // pyrt.h's PYRT_ABI_VERSION: capi/pyrt_c.cc checks they agree

}  // namespace pyrt
