// Shapes and tensor descriptions used while planning and running a graph.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"

namespace pyrt {

using Shape = std::vector<int64_t>;

// Shapes come from files (declared or inferred): a product past int64 is an error, not a wrapped count.
inline int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s)
    if (__builtin_mul_overflow(n, d, &n)) fail(Status::kInvalidArgument, "a shape's element count overflows 64 bits");
  return n;
}

std::string shape_str(const Shape& s);

// One element of a string tensor (spec::kString): the bytes (UTF-8 from Python; any bytes through the C API), not
// NUL-terminated, held by whoever made the tensor: the caller for graph inputs, the session or the op that wrote
// it otherwise. {nullptr, 0} is the empty string. Same layout as the C API's pyrt_string.
struct StringRef {
  const char* data;
  uint64_t size;
};
static_assert(sizeof(StringRef) == 16, "spec::dtype_size(kString) is 16");

struct TensorDesc {
  Shape shape;
  uint8_t dtype = 1;  // spec::DType; f32 unless stated
  // The data, when it is known while the plan is made: a constant, or a value the session computed then from
  // input shapes and constants (Shape -> Gather -> Concat...). Ops read shape-like inputs (a Reshape's shape,
  // Slice's starts, Range's limits) from here in infer(). Null for values computed at run time.
  const void* value = nullptr;
  int64_t numel() const { return pyrt::numel(shape); }
  size_t nbytes() const;
};

}  // namespace pyrt
