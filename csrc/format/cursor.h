// Bounded little-endian reads over one section. Every read checks the remaining length first; a short read
// throws FormatError naming the section and the field.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "base/error.h"

namespace pyrt {

class Cursor {
 public:
  Cursor(const uint8_t* p, size_t n, std::string where) : p_(p), n_(n), where_(std::move(where)) {}

  [[noreturn]] void fail(const std::string& msg) const { format_error(where_ + ": " + msg); }

  const uint8_t* take(uint64_t n, const std::string& what) {
    if (n > n_ - pos_)
      fail("truncated while reading " + what + " (need " + std::to_string(n) + " bytes at offset " +
           std::to_string(pos_) + ", section has " + std::to_string(n_) + ")");
    const uint8_t* r = p_ + pos_;
    pos_ += n;
    return r;
  }
  template <typename T>
  T get(const std::string& what) {
    T v;
    std::memcpy(&v, take(sizeof(T), what), sizeof(T));  // little-endian hosts only (checked in CMake)
    return v;
  }
  uint8_t u8(const std::string& w) { return get<uint8_t>(w); }
  uint16_t u16(const std::string& w) { return get<uint16_t>(w); }
  uint32_t u32(const std::string& w) { return get<uint32_t>(w); }
  uint64_t u64(const std::string& w) { return get<uint64_t>(w); }
  int32_t i32(const std::string& w) { return get<int32_t>(w); }
  int64_t i64(const std::string& w) { return get<int64_t>(w); }

  uint32_t count(uint32_t cap, const std::string& what) {
    const uint32_t n = u32(what);
    if (n > cap) fail(what + " " + std::to_string(n) + " exceeds the cap " + std::to_string(cap));
    return n;
  }
  std::string str(uint32_t cap, const std::string& what, bool allow_empty = false);
  template <typename T>
  std::vector<T> array(uint64_t n, const std::string& what) {
    // n is capped by the caller; the byte count cannot overflow (n < 2^32, sizeof(T) <= 8).
    const uint8_t* b = take(n * sizeof(T), what);
    std::vector<T> v(n);
    if (n) std::memcpy(v.data(), b, n * sizeof(T));
    return v;
  }
  void finish() const {
    if (pos_ != n_) fail(std::to_string(n_ - pos_) + " unexpected bytes at the end of the section");
  }

 private:
  const uint8_t* p_;
  size_t n_, pos_ = 0;
  std::string where_;
};

bool valid_utf8(const uint8_t* s, size_t n);

}  // namespace pyrt
