// pyrt::Error -> Python: format problems become pyruntime.FormatError (the same class the pure-Python reader
// raises), missing files FileNotFoundError, bad arguments ValueError / KeyError.
#include <pybind11/pybind11.h>

#include "base/error.h"
#include "python/bindings.h"

namespace py = pybind11;

namespace pyrt::python {

void bind_errors(py::module_& m) {
  (void)m;
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const pyrt::Error& e) {
      switch (e.status()) {
        case Status::kFormat: {
          py::object cls = py::module_::import("pyruntime.format.errors").attr("FormatError");
          PyErr_SetString(cls.ptr(), e.what());
          return;
        }
        case Status::kNotFound: {
          // File-level "not found" comes from open(); tensor lookups raise KeyError in the Python layer.
          PyErr_SetString(PyExc_FileNotFoundError, e.what());
          return;
        }
        case Status::kIo: PyErr_SetString(PyExc_OSError, e.what()); return;
        case Status::kInvalidArgument: PyErr_SetString(PyExc_ValueError, e.what()); return;
        case Status::kUnsupported: PyErr_SetString(PyExc_NotImplementedError, e.what()); return;
        case Status::kLimit: {
          py::object cls = py::module_::import("pyruntime.format.errors").attr("LimitError");
          PyErr_SetString(cls.ptr(), e.what());
          return;
        }
        default: PyErr_SetString(PyExc_RuntimeError, e.what()); return;
      }
    }
  });
}

}  // namespace pyrt::python
