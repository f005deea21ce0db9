// Helpers for the operators on any element type (Cast, Where, comparisons, logic): a dtype's C++ type, and
// the walk over an output with numpy broadcasting of several inputs. These ops are cheap and off the hot path
// (masks, indices, shape arithmetic), so they run one element at a time.
#pragma once
#include <cstdint>
#include <vector>

#include "ops/common.h"

namespace pyrt::ops {

// Calls f(T()) with T the storage type of dtype: float, int8/uint8/int32/int64, uint8_t for bool, uint16_t
// (the bits) for f16. Returns false for a dtype it does not know.
template <typename F>
bool visit_dtype(uint8_t dtype, F&& f) {
  switch (dtype) {
    case spec::kF32: f(float()); return true;
    case spec::kF16: f(uint16_t()); return true;
    case spec::kI8: f(int8_t()); return true;
    case spec::kU8: case spec::kBool: f(uint8_t()); return true;
    case spec::kI32: f(int32_t()); return true;
    case spec::kI64: f(int64_t()); return true;
    default: return false;
  }
}

// The output of a broadcast over `ins`, and for each input its element strides in that output's index space.
struct BroadcastWalk {
  Shape out;
  std::vector<std::vector<int64_t>> strides;

  void plan(const Op& op, const std::vector<Shape>& ins) {
    out = ins.empty() ? Shape{} : ins[0];
    for (size_t i = 1; i < ins.size(); ++i) out = broadcast(op, out, ins[i]);
    strides.clear();
    for (const Shape& s : ins) strides.push_back(broadcast_strides(s, out));
  }
  // f(o, off) for every output element o in order, off[i] the element offset of input i.
  template <typename F>
  void run(F&& f) const {
    const size_t r = out.size(), n = strides.size();
    const int64_t total = numel(out);
    std::vector<int64_t> idx(r, 0), off(n, 0);
    for (int64_t o = 0; o < total; ++o) {
      f(o, off.data());
      for (size_t d = r; d-- > 0;) {  // odometer: step the last dimension, carry into the ones before
        for (size_t i = 0; i < n; ++i) off[i] += strides[i][d];
        if (++idx[d] < out[d]) break;
        for (size_t i = 0; i < n; ++i) off[i] -= strides[i][d] * out[d];
        idx[d] = 0;
      }
    }
  }
};

}  // namespace pyrt::ops
