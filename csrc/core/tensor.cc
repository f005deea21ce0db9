#include "core/tensor.h"

#include "format/spec.h"

namespace pyrt {

std::string shape_str(const Shape& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

size_t TensorDesc::nbytes() const { return size_t(numel()) * spec::dtype_size(dtype); }

}  // namespace pyrt
