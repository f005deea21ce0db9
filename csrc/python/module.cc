// pyruntime._core: the native module. One file per concept; this one only assembles them.
#include "core/kernel_codecs.h"
#include "core/version.h"
#include "python/bindings.h"

PYBIND11_MODULE(_core, m) {
  m.doc() = "pyruntime native core: .pyrt reader (zero-copy) and kernels";
  // The library's version and C ABI, for `pyruntime info` (tests/python/test_packaging.py: one version everywhere)
  m.attr("__version__") = pyrt::version();
  m.attr("abi_version") = pyrt::kCAbiVersion;
  pyrt::use_kernel_codecs();  // the reader's CRCs and decodes on the SIMD kernels
  pyrt::python::bind_errors(m);
  pyrt::python::bind_kernels(m);
  pyrt::python::bind_model(m);
  pyrt::python::bind_session(m);
  pyrt::python::bind_generate(m);
  pyrt::python::bind_sparse(m);
}
