// Overflow-checked arithmetic for sizes that come from untrusted files.
#pragma once
#include <cstdint>

namespace pyrt {

// Returns false on overflow; *out is only meaningful when true.
inline bool add_ok(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_add_overflow(a, b, out); }
inline bool mul_ok(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_mul_overflow(a, b, out); }

// ceil(a / b) for b > 0, without overflow.
inline uint64_t ceil_div(uint64_t a, uint64_t b) { return a / b + (a % b != 0); }

}  // namespace pyrt
