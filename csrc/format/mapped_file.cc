#include "format/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "base/error.h"

namespace pyrt {

Bytes Bytes::map_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    fail(e == ENOENT ? Status::kNotFound : Status::kIo, "cannot open " + path + ": " + std::strerror(e));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(Status::kIo, "cannot open " + path + ": not a regular file");
  }
  Bytes b;
  b.size_ = size_t(st.st_size);
  if (b.size_ > 0) {
    // MAP_PRIVATE + PROT_READ: pages are shared with the page cache and only faulted in when touched,
    // so opening costs nothing per byte of weights.
    void* p = ::mmap(nullptr, b.size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int e = errno;
      ::close(fd);
      fail(Status::kIo, "cannot map " + path + ": " + std::strerror(e));
    }
    b.data_ = static_cast<const uint8_t*>(p);
    b.mapped_ = true;
#if defined(__linux__) && defined(MADV_NOHUGEPAGE)
    // The page cache may hold the file in 2 MiB folios, which a fault maps whole: reading one 1 KiB bias would
    // make 2 MiB resident. With this, a fault maps 4 KiB pages around it, so the resident set follows what is read.
    ::madvise(p, b.size_, MADV_NOHUGEPAGE);
#endif
  }
  ::close(fd);
  return b;
}

void Bytes::drop_pages(const uint8_t* p, size_t n) const {
#ifdef __linux__
  // Only a private read-only file mapping: there MADV_DONTNEED drops the pages and a later access reads the
  // file again. On our own or a caller's memory it would zero them (anonymous pages), so never there.
  if (!mapped_ || !p || p < data_ || n > size_t(data_ + size_ - p)) return;
  const uintptr_t page = uintptr_t(::sysconf(_SC_PAGESIZE));
  const uintptr_t b = (uintptr_t(p) + page - 1) / page * page, e = (uintptr_t(p) + n) / page * page;
  if (e > b) ::madvise(reinterpret_cast<void*>(b), e - b, MADV_DONTNEED);
#else
  (void)p, (void)n;
#endif
}

Bytes Bytes::copy_of(const void* data, size_t size) {
  Bytes b;
  b.size_ = size;
  if (size) {
    void* p = std::aligned_alloc(64, (size + 63) & ~size_t(63));
    if (!p) fail(Status::kIo, "out of memory copying a model buffer");
    std::memcpy(p, data, size);
    b.owned_ = p;
    b.data_ = static_cast<const uint8_t*>(p);
  }
  return b;
}

Bytes Bytes::borrow(const void* data, size_t size) {
  Bytes b;
  b.data_ = static_cast<const uint8_t*>(data);
  b.size_ = size;
  return b;
}

Bytes::Bytes(Bytes&& o) noexcept { *this = std::move(o); }

Bytes& Bytes::operator=(Bytes&& o) noexcept {
  if (this != &o) {
    release();
    data_ = o.data_;
    size_ = o.size_;
    mapped_ = o.mapped_;
    owned_ = o.owned_;
    o.data_ = nullptr;
    o.size_ = 0;
    o.mapped_ = false;
    o.owned_ = nullptr;
  }
  return *this;
}

Bytes::~Bytes() { release(); }

void Bytes::release() {
  if (mapped_) ::munmap(const_cast<uint8_t*>(data_), size_);
  std::free(owned_);
  data_ = nullptr;
  owned_ = nullptr;
  mapped_ = false;
  size_ = 0;
}

}  // namespace pyrt
