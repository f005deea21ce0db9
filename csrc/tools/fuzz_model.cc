// libFuzzer target: a .pyrt file from untrusted bytes through the C API, as an embedding program would take it:
// open from memory, list the inputs, create a session (the plan builder: op checks, shape inference, kernel
// choice, weight packing) and run once on zero inputs (dynamic dimensions 1). Any crash, sanitizer report, leak
// or timeout is a bug: a bad file must only ever give an error status.
//
//   cmake -S . -B build/fuzz -DCMAKE_CXX_COMPILER=clang++ -DPYRT_FUZZ=ON -DPYRT_SANITIZE=address,undefined
//   cmake --build build/fuzz --target pyrt_fuzz_model
//   build/fuzz/pyrt_fuzz_model -max_total_time=600 CORPUS_DIR formats/golden
#include <cstddef>
#include <cstdint>
#include <vector>

#include "pyrt/pyrt.h"

namespace {

size_t dtype_bytes(int32_t dt) {
  switch (dt) {
    case PYRT_F32: case PYRT_I32: return 4;
    case PYRT_F16: return 2;
    case PYRT_I64: return 8;
    default: return 1;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pyrt_model* m = nullptr;
  if (pyrt_model_open_memory(data, size, /*copy=*/1, &m) != PYRT_OK) return 0;
  size_t n_in = 0;
  pyrt_session_options o;
  pyrt_session_options_init(&o);
  o.num_threads = 1;
  pyrt_session* s = nullptr;
  if (pyrt_model_num_inputs(m, &n_in) == PYRT_OK && n_in <= 16 && pyrt_session_create(m, &o, &s) == PYRT_OK) {
    std::vector<pyrt_tensor> ins(n_in);
    std::vector<std::vector<uint8_t>> bufs(n_in);
    bool small = true;
    for (size_t i = 0; i < n_in && small; ++i) {
      pyrt_io_info info;
      if (pyrt_model_input(m, i, &info) != PYRT_OK || info.rank > PYRT_MAX_RANK) {
        small = false;
        break;
      }
      pyrt_tensor& t = ins[i];
      t = pyrt_tensor{};
      t.dtype = info.dtype, t.rank = info.rank;
      size_t numel = 1;
      for (int32_t d = 0; d < info.rank; ++d) {
        t.dims[d] = info.dims[d] < 0 ? 1 : info.dims[d];
        numel *= size_t(t.dims[d]);
        if (numel > (1u << 16)) small = false;  // the fuzzer looks for bad files, not for big inputs
      }
      if (!small) break;
      bufs[i].assign(numel * dtype_bytes(t.dtype), 0);
      t.data = bufs[i].data(), t.size = bufs[i].size();
    }
    if (small) pyrt_session_run(s, ins.data(), n_in, nullptr, 0);
  }
  pyrt_session_destroy(s);
  pyrt_model_close(m);
  return 0;
}
