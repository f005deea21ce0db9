// Shared parts of LSTM, GRU and RNN (ONNX semantics): weights, directions, layouts (layout=1 is batch-first, as
// PyTorch's batch_first=True), and the input projection of all time steps done as one GEMM up front.
#pragma once
#include <string>
#include <vector>

#include "compute/gemm.h"
#include "ops/common.h"

namespace pyrt::ops {

struct RnnConfig {
  int64_t gates = 4;         // LSTM 4 (i, o, f, c), GRU 3 (z, r, h), RNN 1
  int64_t hidden = 0, input = 0, dirs = 1;
  bool reverse = false;      // direction "reverse" (with dirs == 1)
  bool batch_first = false;  // layout = 1
  const float* W = nullptr;  // [dirs, gates*H, I]
  const float* R = nullptr;  // [dirs, gates*H, H]
  std::vector<float> B;      // [dirs, 2*gates*H] (zeros when absent)
  std::vector<std::shared_ptr<const gemm::PackedB>> w_packed;  // per direction: W^T as K=I x N=gates*H
  std::vector<std::shared_ptr<const gemm::PackedB>> r_packed;  // per direction: R^T as K=H x N=gates*H
  const kernels::Table* kt = nullptr;                          // the session's kernels
  int64_t hidden_attr = 0;   // hidden_size as given (0: from R's shape)
  bool has_b = false;        // input B is given
  bool plan = false;         // W, R or B is a graph input: read and packed when the plan is made
  std::vector<float> W_own, R_own;  // this plan's W and R then
};

// Checks W [dirs, gates*H, I], R [dirs, gates*H, H] and B [dirs, 2*gates*H] (optional) and points the config
// at them (B copied).
template <typename Fail>
void rnn_set_weights(RnnConfig& c, const TensorDesc& w, const float* wp, const TensorDesc& r, const float* rp,
                     const TensorDesc* b, const float* bp, Fail fail) {
  if (w.shape.size() != 3 || r.shape.size() != 3) fail("W and R must be 3-D");
  if (c.hidden_attr <= 0) c.hidden = r.shape[2];
  const int64_t H = c.hidden, gates = c.gates;
  c.input = w.shape[2];
  if (w.shape[0] != c.dirs || w.shape[1] != gates * H || r.shape != Shape{c.dirs, gates * H, H})
    fail("W/R shapes " + shape_str(w.shape) + "/" + shape_str(r.shape) + " do not match hidden_size " +
         std::to_string(H) + " and the direction");
  c.W = wp;
  c.R = rp;
  c.B.assign(size_t(c.dirs * 2 * gates * H), 0.f);
  if (b) {
    if (b->numel() != c.dirs * 2 * gates * H) fail("B must have dirs x 2*gates*hidden values");
    c.B.assign(bp, bp + b->numel());
  }
}
inline gemm::PackedB rnn_pack_w(const RnnConfig& c, int64_t d) {
  const int64_t G = c.gates * c.hidden;
  return gemm::pack_b(*c.kt, c.W + d * G * c.input, size_t(c.input), true, size_t(c.input), size_t(G));
}
inline gemm::PackedB rnn_pack_r(const RnnConfig& c, int64_t d) {
  const int64_t G = c.gates * c.hidden;
  return gemm::pack_b(*c.kt, c.R + d * G * c.hidden, size_t(c.hidden), true, size_t(c.hidden), size_t(G));
}

// Weights that are graph inputs: read from this plan's values (call from infer()); a no-op for constants.
inline void rnn_plan_weights(const Op& op, RnnConfig& c, const std::vector<TensorDesc>& in) {
  if (!c.plan) return;
  const bool has_b = c.has_b && in.size() > 3 && in[3].dtype;
  for (size_t i = 1; i <= (has_b ? 3u : 2u); ++i) {
    require_f32(op, in[i], i == 1 ? "W" : i == 2 ? "R" : "B");
    if (!in[i].value)
      op.fail(std::string(i == 1 ? "W" : i == 2 ? "R" : "B") + " must be known when the plan is made: a constant or "
              "a graph input (here it depends on the data of a run)");
  }
  // copied: the plan's values live only as long as the plan, and GRU reads R at run time
  c.W_own.assign(static_cast<const float*>(in[1].value), static_cast<const float*>(in[1].value) + in[1].numel());
  c.R_own.assign(static_cast<const float*>(in[2].value), static_cast<const float*>(in[2].value) + in[2].numel());
  rnn_set_weights(c, in[1], c.W_own.data(), in[2], c.R_own.data(), has_b ? &in[3] : nullptr,
                  has_b ? static_cast<const float*>(in[3].value) : nullptr, [&](const std::string& m) { op.fail(m); });
  c.w_packed.clear(), c.r_packed.clear();
  for (int64_t d = 0; d < c.dirs; ++d) {
    c.w_packed.push_back(std::make_shared<const gemm::PackedB>(rnn_pack_w(c, d)));
    c.r_packed.push_back(std::make_shared<const gemm::PackedB>(rnn_pack_r(c, d)));
  }
}

inline RnnConfig parse_rnn(const NodeContext& ctx, int64_t gates) {
  RnnConfig c;
  c.gates = gates;
  c.kt = &ctx.kernels();
  ctx.expect_inputs(3, gates == 4 ? 8 : 6);
  c.hidden = c.hidden_attr = ctx.attr_int("hidden_size", 0);
  const std::string dir = ctx.attr_string("direction", "forward");
  if (dir == "bidirectional") c.dirs = 2;
  else if (dir == "reverse") c.reverse = true;
  else if (dir != "forward") ctx.fail("unknown direction '" + dir + "'");
  c.batch_first = ctx.attr_int("layout", 0) == 1;
  if (ctx.attr("activations")) ctx.fail("custom activations are not supported (defaults only)");
  if (ctx.attr("clip")) ctx.fail("cell clipping is not supported");
  if (ctx.has_input(4)) ctx.fail("sequence_lens is not supported (all sequences have the full length)");
  if (gates == 4 && ctx.has_input(7)) ctx.fail("peephole weights (input P) are not supported");
  // W, R, B: constants are checked and packed here, once, shared with the model's other sessions; any that
  // is a graph input is read when the plan is made (plan_input) and packed per plan by rnn_plan_weights().
  c.plan = !ctx.const_input(1) || !ctx.const_input(2) || (ctx.has_input(3) && !ctx.const_input(3));
  c.has_b = ctx.has_input(3);
  if (c.plan) return c;
  const ConstTensor& w = ctx.require_const(1, "W", spec::kF32);
  const ConstTensor& r = ctx.require_const(2, "R", spec::kF32);
  const ConstTensor* b = c.has_b ? &ctx.require_const(3, "B", spec::kF32) : nullptr;
  rnn_set_weights(c, w.desc, w.f32(), r.desc, r.f32(), b ? &b->desc : nullptr, b ? b->f32() : nullptr,
                  [&](const std::string& m) { ctx.fail(m); });
  for (int64_t d = 0; d < c.dirs; ++d) {
    const std::string dir = ".d" + std::to_string(d);
    c.w_packed.push_back(ctx.shared<gemm::PackedB>(1, "rnn.WT" + dir, [&] { return rnn_pack_w(c, d); }));
    c.r_packed.push_back(ctx.shared<gemm::PackedB>(2, "rnn.RT" + dir, [&] { return rnn_pack_r(c, d); }));
  }
  return c;
}

// Output shapes: Y [S, dirs, B, H] (batch-first: [B, S, dirs, H]); Y_h / Y_c [dirs, B, H] ([B, dirs, H]).
inline void rnn_infer(const Op& op, RnnConfig& c, const std::vector<TensorDesc>& in,
                      std::vector<TensorDesc>& out, int64_t* seq, int64_t* batch) {
  rnn_plan_weights(op, c, in);
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
