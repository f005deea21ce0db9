// Shapes and tensor descriptions used while planning and running a graph.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace pyrt {

using Shape = std::vector<int64_t>;

inline int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::string shape_str(const Shape& s);

struct TensorDesc {
  Shape shape;
  uint8_t dtype = 1;  // spec::DType; f32 unless stated
  int64_t numel() const { return pyrt::numel(shape); }
  size_t nbytes() const;
};

}  // namespace pyrt
