// Helpers shared by operators: axis handling, broadcasting, fused-activation attributes, parallel loops.
#pragma once
#include <limits>
#include <string>
#include <vector>

#include "kernels/activation.h"
#include "core/op.h"
#include "compute/thread_pool.h"
#include "format/spec.h"

namespace pyrt::ops {

// Normalizes a possibly negative axis against `rank`; fails naming the op when out of range.
int64_t norm_axis(const Op& op, int64_t axis, size_t rank);

// Numpy broadcasting of two shapes; fails naming the op on mismatch.
Shape broadcast(const Op& op, const Shape& a, const Shape& b);

// Strides (in elements) of `in` read as if it had shape `out` (0 where broadcast), right-aligned.
std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out);

// The activation named by a node's "activation" attribute (fused by the exporter): "", relu, relu6, clip
// (min/max attributes), leaky_relu (alpha), sigmoid, tanh, silu, hardsigmoid, hardswish, gelu.
ActParams fused_activation(const NodeContext& ctx);
// An Act by op name (Relu, Sigmoid...), with its attributes.
ActParams activation_for_op(const NodeContext& ctx);

// Upper bound on kernel sizes, strides, dilations and pads read from a file: far above any real network, low
// enough that the window arithmetic of shape inference (k * d + pads + a dimension) cannot overflow.
constexpr int64_t kMaxWindow = int64_t(1) << 20;

// Splits [0, n) over the pool (or runs inline without one).
template <typename F>
void parallel(const RunContext& ctx, size_t n, size_t grain, F&& f) {
  if (ctx.pool && n > grain) ctx.pool->parallel_for(n, grain, f);
  else f(size_t(0), n, 0);
}

// How a quantized Linear / 1x1 convolution splits its work across threads: a small weight (up to 256 KiB as its
// kernel reads it: EfficientNet-Lite0's, not GPT-2's 768 x 768) against many rows (a convolution's pixels) by
// rows, each thread reading all of it from cache and taking its rows from quantization to the finished outputs;
// otherwise by outputs, each thread reading its share of the weight (a long prompt through a big Linear).
inline bool split_by_rows(int64_t rows, size_t weight_bytes) { return rows >= 96 && weight_bytes <= (size_t(256) << 10); }

// The clamp a quantized GEMM's finish applies for a fused activation: None, Relu and Clip are (fused), others are
// left to the caller (lo, hi infinite).
struct FusedClamp {
  bool fused;
  float lo, hi;
};
inline FusedClamp fused_clamp(const ActParams& act) {
  const float inf = std::numeric_limits<float>::infinity();
  const bool fused = act.act == Act::kNone || act.act == Act::kRelu || act.act == Act::kClip;
  const float lo = !fused ? -inf : act.act == Act::kRelu ? 0.f : act.act == Act::kClip ? act.p0 : -inf;
  return {fused, lo, fused && act.act == Act::kClip ? act.p1 : inf};
}

// A Linear weight's shape: [N, K], or a 1x1 convolution's [N, K, 1, 1] (the same matrix view).
inline bool matrix_weight_shape(const Shape& s, bool conv1x1) {
  return conv1x1 ? s.size() == 4 && s[2] == 1 && s[3] == 1 : s.size() == 2;
}

inline void require_f32(const Op& op, const TensorDesc& d, const char* what) {
  if (d.dtype != spec::kF32) op.fail(std::string(what) + " must be f32, got " + spec::dtype_name(d.dtype));
}

// A shape seen as [outer, len, inner] around one axis: the layout every axis-wise op walks.
struct AxisSplit {
  int64_t outer = 1, len = 1, inner = 1;
};
inline AxisSplit split_at(const Shape& s, size_t axis) {
  AxisSplit a;
  for (size_t i = 0; i < axis; ++i) a.outer *= s[i];
  a.len = s[axis];
  for (size_t i = axis + 1; i < s.size(); ++i) a.inner *= s[i];
  return a;
}

// Integers from constant input i (i64 or i32), else from attribute `attr` (empty if neither).
std::vector<int64_t> const_ints(const NodeContext& ctx, size_t i, const char* what, const char* attr);

// The integers (i64 or i32) of a value known when the plan is made (TensorDesc::value); fails naming `what`
// when the value depends on the data of a run.
std::vector<int64_t> plan_ints(const Op& op, const TensorDesc& d, const char* what);
// ... and floats (f32)
std::vector<float> plan_floats(const Op& op, const TensorDesc& d, const char* what);
// ... and strings (d.numel() handles)
const StringRef* plan_strings(const Op& op, const TensorDesc& d, const char* what);

// A shape-like input (a shape, axes, pads, repeats, K): a constant or an attribute, read once when the op is
// created, or a value the session computes from input shapes when it plans, read again by each infer().
class IntsInput {
 public:
  IntsInput() = default;
  IntsInput(const NodeContext& ctx, size_t i, const char* what, const char* attr);
  bool present() const { return present_; }
  bool computed() const { return computed_; }  // known only per plan
  // The values for this plan (call from infer()).
  const std::vector<int64_t>& at(const Op& op, const std::vector<TensorDesc>& in) {
    if (computed_) v_ = plan_ints(op, in[i_], what_);
    return v_;
  }
  const std::vector<int64_t>& value() const { return v_; }  // constant ones (and the last plan's)

 private:
  size_t i_ = 0;
  const char* what_ = "";
  bool present_ = false, computed_ = false;
  std::vector<int64_t> v_;
};

// What the file declares about input i (dtype, maybe its dims), or null: lets an op refuse, when it is created,
// a graph input it could only read when the plan is made (wrong dtype or size), as it refuses such a constant.
inline const ValueInfo* declared_input(const NodeContext& ctx, size_t i) {
  const Graph* g = ctx.model().graph();
  if (!g || !ctx.has_input(i) || ctx.node().inputs[i] >= g->values.size()) return nullptr;
  return &g->values[ctx.node().inputs[i]];
}
// Its element count when every dim is declared, else -1.
inline int64_t declared_numel(const ValueInfo* v) {
  if (!v || !v->rank_known) return -1;
  int64_t n = 1;
  for (int64_t d : v->dims) {
    if (d < 0) return -1;
    n *= d;
  }
  return n;
}

inline size_t align64(size_t n) { return (n + 63) & ~size_t(63); }

// 64-byte aligned bytes (a kernel's own layout of a weight, built once at load), with 64 bytes of slack after
// them (vector loads that run past the end)
class AlignedBytes {
 public:
  explicit AlignedBytes(size_t n) : buf_(n + 128), n_(n) {}  // n bytes, then at least 64 more readable (zeros)
  // The same over bytes kept elsewhere (pre-packed in a model file, SPEC §6.6): `stored` must be the n bytes
  // and the 64 after them, 64-byte aligned; else null.
  static std::unique_ptr<AlignedBytes> view(const uint8_t* p, uint64_t stored, size_t n) {
    if (stored != uint64_t(n) + 64 || reinterpret_cast<uintptr_t>(p) % 64) return nullptr;
    std::unique_ptr<AlignedBytes> r(new AlignedBytes(0));
    r->view_ = p, r->n_ = n;
    return r;
  }
  uint8_t* data() { return buf_.data() + (64 - reinterpret_cast<uintptr_t>(buf_.data()) % 64) % 64; }
  const uint8_t* data() const { return view_ ? view_ : const_cast<AlignedBytes*>(this)->data(); }
  // What a file stores (NodeContext::packed): the bytes and the 64 readable after them.
  const void* bytes() const { return data(); }
  size_t size() const { return n_ + 64; }

 private:
  std::vector<uint8_t> buf_;
  size_t n_ = 0;
  const uint8_t* view_ = nullptr;
};

}  // namespace pyrt::ops
