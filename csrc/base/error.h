// Errors inside libpyrt. C++ code throws pyrt::Error; the C API and the Python bindings turn it into a
// status code + message / a Python exception at their boundary, so no exception crosses either.
#pragma once
#include <stdexcept>
#include <string>

namespace pyrt {

enum class Status : int {
  kOk = 0,
  kInvalidArgument = 1,  // caller passed something wrong (bad name, wrong buffer size, ...)
  kFormat = 2,           // the model file/buffer is malformed or needs features we lack
  kIo = 3,               // the file could not be opened / mapped
  kNotFound = 4,         // a named tensor / input does not exist
  kUnsupported = 5,      // valid input that this build cannot execute
  kInternal = 6,
  kLimit = 7,            // valid input above a cap the embedder set (file size, tensor/node count, arena bytes)
};

class Error : public std::runtime_error {
 public:
  Error(Status status, const std::string& message) : std::runtime_error(message), status_(status) {}
  Status status() const { return status_; }

 private:
  Status status_;
};

[[noreturn]] inline void fail(Status s, const std::string& msg) { throw Error(s, msg); }
[[noreturn]] inline void format_error(const std::string& msg) { throw Error(Status::kFormat, msg); }

}  // namespace pyrt
