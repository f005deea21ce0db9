// What the fuzz target and the tests share: recomputing a file's CRCs after mutating it (so that a mutation
// reaches the structural checks behind the CRCs instead of being stopped by them), and taking a file through
// the C API as an embedder would.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "format/crc32c.h"
#include "format/spec.h"
#include "pyrt/pyrt.h"

namespace pyrt::testing {

inline uint32_t rd32(const std::vector<uint8_t>& b, size_t o) {
  uint32_t v;
  std::memcpy(&v, b.data() + o, 4);
  return v;
}
inline uint64_t rd64(const std::vector<uint8_t>& b, size_t o) {
  uint64_t v;
  std::memcpy(&v, b.data() + o, 8);
  return v;
}
inline void wr32(std::vector<uint8_t>& b, size_t o, uint32_t v) { std::memcpy(b.data() + o, &v, 4); }

// Recomputes section, table and header CRCs (where they are in bounds) so that a mutation reaches the
// structural checks behind the CRCs instead of being stopped by them.
inline void refix(std::vector<uint8_t>& b, bool data_too) {
  if (b.size() < 64) return;
  const uint32_t n = std::min<uint32_t>(rd32(b, 48), 64);
  const uint64_t toff = rd64(b, 40);
  if (toff <= b.size() && uint64_t(n) * 32 <= b.size() - toff) {
    for (uint32_t i = 0; i < n; ++i) {
      const size_t e = size_t(toff) + 32 * i;
      const uint32_t kind = rd32(b, e);
      const uint64_t off = rd64(b, e + 8), size = rd64(b, e + 16);
      if ((kind != spec::kSecData || data_too) && off <= b.size() && size <= b.size() - off)
        wr32(b, e + 24, crc32c(b.data() + off, size));
    }
    wr32(b, 52, crc32c(b.data() + toff, size_t(n) * 32));
  }
  wr32(b, 60, crc32c(b.data(), 60));
}

// Opens the bytes from memory, lists the inputs, creates a session (op checks, shape inference, kernel choice,
// weight packing) and runs it once on zero inputs (dynamic dimensions 1; inputs over 65,536 elements skipped).
// A bad file must only ever give an error status.
inline void exercise(const uint8_t* data, size_t size) {
  pyrt_model* m = nullptr;
  if (pyrt_model_open_memory(data, size, /*copy=*/1, &m) != PYRT_OK) return;
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
        // bad files are the point here, not big inputs (and the product must not overflow)
        if (t.dims[d] > (1 << 16) || (numel *= size_t(t.dims[d])) > (1u << 16)) small = false;
      }
      if (!small) break;
      bufs[i].assign(numel * spec::dtype_size(uint8_t(t.dtype)), 0);  // C dtype ids = the format's
      t.data = bufs[i].data(), t.size = bufs[i].size();
    }
    if (small) pyrt_session_run(s, ins.data(), n_in, nullptr, 0);
  }
  pyrt_session_destroy(s);
  pyrt_model_close(m);
}

}  // namespace pyrt::testing
