// Kernel dispatch introspection, the CRC helper, and the read-bandwidth probe the benchmarks compare with.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "compute/thread_pool.h"

#include "format/crc32c.h"
#include "kernels/dispatch.h"
#include "python/bindings.h"

namespace py = pybind11;

namespace pyrt::python {

void bind_kernels(py::module_& m) {
  m.def("isa", [] { return std::string(kernels::active().name); },
        "Name of the kernel table in use: a variant of kernel_tables() or 'ref' (PYRT_KERNELS=<name>|ref forces one).");
  m.def("kernel_tables", [] {
    std::vector<std::string> names;
    for (const kernels::Table* t : kernels::supported_tables()) names.emplace_back(t->name);
    return names;
  }, "Every kernel-table variant compiled in that this CPU runs, best first (the reference 'ref' not listed).");
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
    d["avx512vnni"] = c.avx512vnni;
    d["avx512vbmi"] = c.avx512vbmi;
    return d;
  });
  m.def("crc32c", [](py::object b) {
    ContiguousBuffer buf(b);
    py::gil_scoped_release nogil;
    return crc32c(buf.data(), buf.size());
  }, py::arg("data"), "CRC-32C of a contiguous buffer (SPEC §3.2).");
  m.def("read_bandwidth", [](size_t mib, int threads, int repeats) {
    // Streaming read: sum a buffer far larger than the caches with `threads` threads (each its own slice);
    // the median of `repeats` passes, in GB/s. What a memory-bound kernel (an int4 GEMV) is compared with.
    const size_t words = std::max<size_t>(mib, 1) << 17;  // 8-byte words
    std::vector<uint64_t> buf(words, 1);
    ThreadPool pool(threads);
    std::vector<uint64_t> sums(size_t(std::max(threads, 1)) * 8);
    std::vector<double> gbps;
    py::gil_scoped_release nogil;
    for (int r = 0; r < std::max(repeats, 1) + 1; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      pool.parallel_for(words / 64, 1, [&](size_t b, size_t e, int t) {
        uint64_t a[8] = {};
        for (size_t i = b * 64; i < e * 64; i += 8) {
          __builtin_prefetch(&buf[i] + 2048);  // 16 KiB ahead, as the int4 GEMV does (1 KiB left a third unused)
          for (int k = 0; k < 8; ++k) a[k] += buf[i + size_t(k)];
        }
        for (int k = 0; k < 8; ++k) sums[size_t(t) * 8 + size_t(k)] += a[k];
      });
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (r) gbps.push_back(double(words * 8) / s * 1e-9);  // the first pass warms up (page faults)
    }
    std::sort(gbps.begin(), gbps.end());
    uint64_t total = 0;
    for (uint64_t v : sums) total += v;
    if (total == 0) return -1.0;  // keeps the sums alive
    return gbps[gbps.size() / 2];
  }, py::arg("mib") = 1024, py::arg("threads") = 1, py::arg("repeats") = 5,
     "Streaming read bandwidth in GB/s: the median of `repeats` passes over `mib` MiB with `threads` threads.");
}

}  // namespace pyrt::python
