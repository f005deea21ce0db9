// Helpers for the operators on any element type (Cast, Where, comparisons, logic): a dtype's C++ type, and
// the walk over an output with numpy broadcasting of several inputs. These ops are cheap and off the hot path
// (masks, indices, shape arithmetic), so they run one element at a time.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "base/scalar_codecs.h"
#include "ops/common.h"

namespace pyrt::ops {

// An ONNX TensorProto.DataType (a Cast's `to`, EyeLike's `dtype`) as spec::DType; 0: not a type this runtime
// computes on (strings, float8, int4...).
inline uint8_t dtype_from_onnx(int64_t t) {
  switch (t) {
    case 1: return spec::kF32;  case 2: return spec::kU8;   case 3: return spec::kI8;   case 4: return spec::kU16;
    case 5: return spec::kI16;  case 6: return spec::kI32;  case 7: return spec::kI64;  case 9: return spec::kBool;
    case 10: return spec::kF16; case 11: return spec::kF64; case 12: return spec::kU32; case 13: return spec::kU64;
    case 16: return spec::kBF16;
    default: return 0;
  }
}

// f16 and bf16 elements as their bits, in types of their own so that no template mistakes them for uint16.
struct Half { uint16_t bits; };
struct BHalf { uint16_t bits; };
inline float to_float(Half h) { return scalar::f16_to_f32(h.bits); }
inline float to_float(BHalf h) {
  const uint32_t u = uint32_t(h.bits) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline BHalf to_bf16(float f) {  // round to nearest even; NaN stays NaN
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return BHalf{uint16_t((u >> 16) | 0x40)};
  return BHalf{uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16)};
}

// Calls f(T()) with T the storage type of dtype: float, double, the integer types, uint8_t for bool, Half /
// BHalf for f16 / bf16. Returns false for a dtype it does not know.
template <typename F>
bool visit_dtype(uint8_t dtype, F&& f) {
  switch (dtype) {
    case spec::kF32: f(float()); return true;
    case spec::kF64: f(double()); return true;
    case spec::kF16: f(Half()); return true;
    case spec::kBF16: f(BHalf()); return true;
    case spec::kI8: f(int8_t()); return true;
    case spec::kU8: case spec::kBool: f(uint8_t()); return true;
    case spec::kI16: f(int16_t()); return true;
    case spec::kU16: f(uint16_t()); return true;
    case spec::kI32: f(int32_t()); return true;
    case spec::kU32: f(uint32_t()); return true;
    case spec::kI64: f(int64_t()); return true;
    case spec::kU64: f(uint64_t()); return true;
    default: return false;
  }
}

// As visit_dtype, for the types with C++ arithmetic (every one but f16 / bf16, which return false).
template <typename F>
bool visit_numeric(uint8_t dtype, F&& f) {
  if (dtype == spec::kF16 || dtype == spec::kBF16) return false;
  return visit_dtype(dtype, [&](auto tag) {
    if constexpr (std::is_arithmetic_v<decltype(tag)>) f(tag);
  });
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

// GatherElements / ScatterElements: indices (i64 or i32) of the data's rank, each naming a position along
// `axis`; element o of the indices addresses the data element at o's own index with that axis replaced.
struct AxisIndices {
  Shape data, idx;
  size_t axis = 0;
  bool i64 = true;

  void plan(const Op& op, const TensorDesc& d, const TensorDesc& ix, int64_t a) {
    if (ix.dtype != spec::kI64 && ix.dtype != spec::kI32)
      op.fail(std::string("indices must be i64 or i32, got ") + spec::dtype_name(ix.dtype));
    if (d.shape.size() != ix.shape.size() || d.shape.empty())
      op.fail("data " + shape_str(d.shape) + " and indices " + shape_str(ix.shape) + " must have one rank (>= 1)");
    axis = size_t(norm_axis(op, a, d.shape.size()));
    for (size_t i = 0; i < d.shape.size(); ++i)
      if (i != axis && ix.shape[i] > d.shape[i])
        op.fail("indices " + shape_str(ix.shape) + " are larger than data " + shape_str(d.shape) + " off the axis");
    data = d.shape, idx = ix.shape, i64 = ix.dtype == spec::kI64;
  }
  // f(o, data offset) for every index element o, in order; an index outside [-len, len) is an error.
  template <typename F>
  void run(const Op& op, const void* indices, F&& f) const {
    const size_t r = idx.size();
    std::vector<int64_t> stride(r, 1), at(r, 0);
    for (size_t i = r - 1; i-- > 0;) stride[i] = stride[i + 1] * data[i + 1];
    const int64_t total = numel(idx), len = data[axis];
    for (int64_t o = 0; o < total; ++o) {
      int64_t k = i64 ? static_cast<const int64_t*>(indices)[o] : static_cast<const int32_t*>(indices)[o];
      if (k < -len || k >= len)
        op.fail("index " + std::to_string(k) + " is out of range for axis " + std::to_string(axis) + " of size " +
                std::to_string(len));
      if (k < 0) k += len;
      int64_t off = 0;
      for (size_t d = 0; d < r; ++d) off += (d == axis ? k : at[d]) * stride[d];
      f(o, off);
      for (size_t d = r; d-- > 0;) {
        if (++at[d] < idx[d]) break;
        at[d] = 0;
      }
    }
  }
};

}  // namespace pyrt::ops
