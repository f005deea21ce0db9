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
#include <cstdlib>
#include <vector>

#include "fuzz/fuzz_support.h"

// The caps an embedder on a small device would set (the defaults are 4 GiB each): a file asking for more is
// refused with an error, and the fuzzer's memory limit (2 GiB) stays for real leaks and unchecked allocations.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setenv("PYRT_MAX_ARENA_BYTES", "16777216", 0);  // 16 MiB: also bounds the work of one run
  setenv("PYRT_MAX_DECODE_BYTES", "67108864", 0);
  return 0;
}

// Each input twice: as it is, and with its CRCs recomputed (most mutations would otherwise stop at a CRC check
// and never reach the structure behind it).
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pyrt::testing::exercise(data, size);
  std::vector<uint8_t> fixed(data, data + size);
  pyrt::testing::refix(fixed, size % 2 == 0);
  pyrt::testing::exercise(fixed.data(), fixed.size());
  return 0;
}
