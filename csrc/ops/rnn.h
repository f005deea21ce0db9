// Shared parts of LSTM and GRU (ONNX semantics): weights, directions, layouts (layout=1 is batch-first, as
// PyTorch's batch_first=True), and the input projection of all time steps done as one GEMM up front.
#pragma once
#include <string>
#include <vector>

#include "compute/gemm.h"
#include "ops/common.h"

namespace pyrt::ops {

struct RnnConfig {
  int64_t gates = 4;         // LSTM 4 (i, o, f, c), GRU 3 (z, r, h)
  int64_t hidden = 0, input = 0, dirs = 1;
  bool reverse = false;      // direction "reverse" (with dirs == 1)
  bool batch_first = false;  // layout = 1
  const float* W = nullptr;  // [dirs, gates*H, I]
  const float* R = nullptr;  // [dirs, gates*H, H]
  std::vector<float> B;      // [dirs, 2*gates*H] (zeros when absent)
  std::vector<std::shared_ptr<const gemm::PackedB>> w_packed;  // per direction: W^T as K=I x N=gates*H
  std::vector<std::shared_ptr<const gemm::PackedB>> r_packed;  // per direction: R^T as K=H x N=gates*H
  const kernels::Table* kt = nullptr;                          // the session's kernels
};

inline RnnConfig parse_rnn(const NodeContext& ctx, int64_t gates) {
  RnnConfig c;
  c.gates = gates;
  c.kt = &ctx.kernels();
  ctx.expect_inputs(3, gates == 4 ? 8 : 6);
  c.hidden = ctx.attr_int("hidden_size", 0);
  const std::string dir = ctx.attr_string("direction", "forward");
  if (dir == "bidirectional") c.dirs = 2;
  else if (dir == "reverse") c.reverse = true;
  else if (dir != "forward") ctx.fail("unknown direction '" + dir + "'");
  c.batch_first = ctx.attr_int("layout", 0) == 1;
  if (ctx.attr("activations")) ctx.fail("custom activations are not supported (defaults only)");
  if (ctx.attr("clip")) ctx.fail("cell clipping is not supported");
  if (ctx.has_input(4)) ctx.fail("sequence_lens is not supported (all sequences have the full length)");
  if (gates == 4 && ctx.has_input(7)) ctx.fail("peephole weights (input P) are not supported");
  const ConstTensor& w = ctx.require_const(1, "W", spec::kF32);
  const ConstTensor& r = ctx.require_const(2, "R", spec::kF32);
  if (w.desc.shape.size() != 3 || r.desc.shape.size() != 3) ctx.fail("W and R must be 3-D");
  if (c.hidden <= 0) c.hidden = r.desc.shape[2];
  const int64_t H = c.hidden;
  c.input = w.desc.shape[2];
  if (w.desc.shape[0] != c.dirs || w.desc.shape[1] != gates * H || r.desc.shape != Shape{c.dirs, gates * H, H})
    ctx.fail("W/R shapes " + shape_str(w.desc.shape) + "/" + shape_str(r.desc.shape) + " do not match hidden_size " +
             std::to_string(H) + " and the direction");
  c.W = w.f32();
  c.R = r.f32();
  c.B.assign(size_t(c.dirs * 2 * gates * H), 0.f);
  if (ctx.has_input(3)) {
    const ConstTensor& b = ctx.require_const(3, "B", spec::kF32);
    if (b.desc.numel() != c.dirs * 2 * gates * H) ctx.fail("B must have dirs x 2*gates*hidden values");
    c.B.assign(b.f32(), b.f32() + b.desc.numel());
  }
  for (int64_t d = 0; d < c.dirs; ++d) {
    const std::string dir = ".d" + std::to_string(d);
    c.w_packed.push_back(ctx.shared<gemm::PackedB>(1, "rnn.WT" + dir, [&] {
      return gemm::pack_b(*c.kt, c.W + d * gates * H * c.input, size_t(c.input), true, size_t(c.input), size_t(gates * H));
    }));
    c.r_packed.push_back(ctx.shared<gemm::PackedB>(2, "rnn.RT" + dir, [&] {
      return gemm::pack_b(*c.kt, c.R + d * gates * H * H, size_t(H), true, size_t(H), size_t(gates * H));
    }));
  }
  return c;
}

// Output shapes: Y [S, dirs, B, H] (batch-first: [B, S, dirs, H]); Y_h / Y_c [dirs, B, H] ([B, dirs, H]).
inline void rnn_infer(const Op& op, const RnnConfig& c, const std::vector<TensorDesc>& in,
                      std::vector<TensorDesc>& out, int64_t* seq, int64_t* batch) {
  require_f32(op, in[0], "X");
  const Shape& x = in[0].shape;
  if (x.size() != 3 || x[2] != c.input) op.fail("X must be 3-D with " + std::to_string(c.input) + " features, got " + shape_str(x));
  *seq = c.batch_first ? x[1] : x[0];
  *batch = c.batch_first ? x[0] : x[1];
  const int64_t S = *seq, B = *batch, H = c.hidden, D = c.dirs;
  const Shape st = c.batch_first ? Shape{B, D, H} : Shape{D, B, H};
  for (size_t k = 5; k < in.size() && k <= 6; ++k)
    if (in[k].dtype && in[k].shape != st) op.fail("initial state must have shape " + shape_str(st) + ", got " + shape_str(in[k].shape));
  if (!out.empty()) out[0] = {c.batch_first ? Shape{B, S, D, H} : Shape{S, D, B, H}, spec::kF32};
  for (size_t k = 1; k < out.size(); ++k) out[k] = {st, spec::kF32};
}

// Element (t, b) of a [S, B, ...] / [B, S, ...] tensor, and of a state [D, B, H] / [B, D, H].
inline size_t seq_row(const RnnConfig& c, int64_t t, int64_t b, int64_t S, int64_t B) {
  return size_t(c.batch_first ? b * S + t : t * B + b);
}
inline size_t y_index(const RnnConfig& c, int64_t t, int64_t d, int64_t b, int64_t S, int64_t B) {
  return size_t((c.batch_first ? (b * S + t) * c.dirs + d : (t * c.dirs + d) * B + b) * c.hidden);
}
inline size_t state_index(const RnnConfig& c, int64_t d, int64_t b, int64_t B) {
  return size_t((c.batch_first ? b * c.dirs + d : d * B + b) * c.hidden);
}

}  // namespace pyrt::ops
