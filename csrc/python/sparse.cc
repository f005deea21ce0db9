// pyruntime._core.sparse_kernel: the runtime's decision of which layers run on a sparse kernel
// (ops/sparse_support.h), asked by the exporter (exporters/sparsity.py) instead of mirroring its conditions.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "ops/sparse_support.h"
#include "python/bindings.h"

namespace py = pybind11;

namespace pyrt::python {
namespace {

// An exporter IR node's attributes (a dict of ints, floats, strings, int lists) read as NodeContext reads a
// graph node's.
struct DictAttrs {
  py::dict d;
  template <class T>
  T get(const char* name, T dflt) const {
    return d.contains(name) ? py::cast<T>(d[name]) : dflt;
  }
  int64_t attr_int(const std::string& n, int64_t dflt) const { return get(n.c_str(), dflt); }
  float attr_float(const std::string& n, float dflt) const { return get(n.c_str(), dflt); }
  std::vector<int64_t> attr_ints(const std::string& n, std::vector<int64_t> dflt) const { return get(n.c_str(), dflt); }
  std::string attr_string(const std::string& n, const std::string& dflt) const { return get(n.c_str(), dflt); }
};

}  // namespace

void bind_sparse(py::module_& m) {
  m.def("sparse_kernel", [](const std::string& op, const Shape& weight_shape, py::dict attrs) -> py::object {
    const char* kind = ops::sparse_kernel(op, weight_shape, DictAttrs{std::move(attrs)});
    return kind ? py::object(py::str(kind)) : py::object(py::none());
  }, py::arg("op"), py::arg("weight_shape"), py::arg("attrs"),
     "The sparse kernel a layer runs when its weight is stored csr: 'conv1x1', 'convkxk', 'linear', 'qconv', "
     "'qlinear' (the cost model's kinds), or None (the weight is decoded at load).");
}

}  // namespace pyrt::python
