// Kernel dispatch introspection and the CRC helper.
#include <pybind11/pybind11.h>

#include "format/crc32c.h"
#include "kernels/dispatch.h"
#include "python/bindings.h"

namespace py = pybind11;

namespace pyrt::python {

void bind_kernels(py::module_& m) {
  m.def("isa", [] { return std::string(kernels::active().name); },
        "Name of the kernel table in use: 'avx512', 'avx2', 'neon' or 'ref' (PYRT_KERNELS=avx2|ref forces one).");
  m.def("force_reference", &kernels::force_reference, py::arg("on"),
        "Use the scalar reference kernels (as PYRT_KERNELS=ref does).");
  m.def("cpu_features", [] {
    const auto& c = kernels::cpu();
    py::dict d;
    d["avx2"] = c.avx2;
    d["fma"] = c.fma;
    d["f16c"] = c.f16c;
    d["sse42"] = c.sse42;
    d["neon"] = c.neon;
    d["crc32"] = c.crc32;
    d["dotprod"] = c.dotprod;
    d["i8mm"] = c.i8mm;
    d["avx512f"] = c.avx512f;
    d["avx512vl"] = c.avx512vl;
    d["avx512bw"] = c.avx512bw;
    d["avx512dq"] = c.avx512dq;
    return d;
  });
  m.def("crc32c", [](py::object b) {
    ContiguousBuffer buf(b);
    py::gil_scoped_release nogil;
    return crc32c(buf.data(), buf.size());
  }, py::arg("data"), "CRC-32C of a contiguous buffer (SPEC §3.2).");
}

}  // namespace pyrt::python
