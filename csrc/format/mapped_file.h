// Read-only bytes of a model: a memory-mapped file, a buffer owned by us, or a caller's buffer.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pyrt {

class Bytes {
 public:
  static Bytes map_file(const std::string& path);          // throws Error(kIo / kNotFound)
  static Bytes copy_of(const void* data, size_t size);     // owns a 64-byte aligned copy
  static Bytes borrow(const void* data, size_t size);      // caller keeps data alive
  Bytes() = default;
  Bytes(Bytes&& o) noexcept;
  Bytes& operator=(Bytes&& o) noexcept;
  Bytes(const Bytes&) = delete;
  Bytes& operator=(const Bytes&) = delete;
  ~Bytes();

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool mapped() const { return mapped_; }
  // Gives the pages wholly inside [p, p + n) back to the OS when the bytes are a mapped file: they leave this
  // process's resident set and are read again from the file (the page cache) if touched. A no-op otherwise.
  void drop_pages(const uint8_t* p, size_t n) const;

 private:
  void release();
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;
  void* owned_ = nullptr;
};

}  // namespace pyrt
