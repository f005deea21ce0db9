#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "format/spec.h"

namespace pyrt::python {

// A C-contiguous view of any buffer-protocol object; non-contiguous buffers are refused (BufferError) rather
// than read with the wrong strides.
class ContiguousBuffer {
 public:
  explicit ContiguousBuffer(const pybind11::object& o) {
    if (PyObject_GetBuffer(o.ptr(), &view_, PyBUF_C_CONTIGUOUS) != 0) throw pybind11::error_already_set();
  }
  ~ContiguousBuffer() { PyBuffer_Release(&view_); }
  ContiguousBuffer(const ContiguousBuffer&) = delete;
  ContiguousBuffer& operator=(const ContiguousBuffer&) = delete;
  const void* data() const { return view_.buf; }
  size_t size() const { return size_t(view_.len); }

 private:
  Py_buffer view_;
};

// The numpy dtype of a .pyrt dtype id.
inline pybind11::dtype np_dtype(uint8_t dt) {
  switch (dt) {
    case spec::kF32: return pybind11::dtype("<f4");
    case spec::kF16: return pybind11::dtype("<f2");
    case spec::kI8: return pybind11::dtype("i1");
    case spec::kU8: return pybind11::dtype("u1");
    case spec::kI32: return pybind11::dtype("<i4");
    case spec::kI64: return pybind11::dtype("<i8");
    case spec::kF64: return pybind11::dtype("<f8");
    case spec::kI16: return pybind11::dtype("<i2");
    case spec::kU16: return pybind11::dtype("<u2");
    case spec::kU32: return pybind11::dtype("<u4");
    case spec::kU64: return pybind11::dtype("<u8");
    case spec::kBF16: return pybind11::dtype("<u2");  // numpy has no bfloat16: its bits
    default: return pybind11::dtype("?");
  }
}

void bind_errors(pybind11::module_& m);
void bind_generate(pybind11::module_& m);
void bind_model(pybind11::module_& m);
void bind_kernels(pybind11::module_& m);
void bind_session(pybind11::module_& m);
void bind_sparse(pybind11::module_& m);
}  // namespace pyrt::python
