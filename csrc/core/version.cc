#include "core/version.h"

#ifndef PYRT_VERSION_STRING
#error "PYRT_VERSION_STRING is the project's version, defined by CMakeLists.txt"
#endif

namespace pyrt {

const char* version() { return PYRT_VERSION_STRING; }

}  // namespace pyrt
