#pragma once
#include <pybind11/pybind11.h>

namespace pyrt::python {
void bind_errors(pybind11::module_& m);
void bind_model(pybind11::module_& m);
void bind_kernels(pybind11::module_& m);
}  // namespace pyrt::python
