// Overflow-checked arithmetic for sizes that come from untrusted files.
#pragma once
#include <cstdint>
#include <cstdlib>

namespace pyrt {

// Returns false on overflow; *out is only meaningful when true.
inline bool add_ok(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_add_overflow(a, b, out); }
inline bool mul_ok(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_mul_overflow(a, b, out); }

// A byte limit from the environment (a decimal number), else `dflt`.
inline uint64_t env_bytes(const char* name, uint64_t dflt) {
  const char* e = std::getenv(name);
  return e ? std::strtoull(e, nullptr, 10) : dflt;
}

// ceil(a / b) for b > 0, without overflow.
inline uint64_t ceil_div(uint64_t a, uint64_t b) { return a / b + (a % b != 0); }

}  // namespace pyrt
