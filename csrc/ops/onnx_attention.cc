// ONNX Attention (ai.onnx opset 23, 24, 25): scaled dot-product attention over Q, K, V with an optional mask,
// causal / sliding-window masking, a past key/value concatenated on the sequence axis, grouped-query heads,
// softcap and the optional QK output. Not pyruntime's CausalAttention (ops/attention.cc), which owns a cache.
//
//   inputs   Q, K, V: 3-D [B, S, heads * head_size] (q_num_heads / kv_num_heads given) or 4-D [B, heads, S, D];
//            attn_mask (bool: true = attend, or float: added), past_key / past_value [B, kv_heads, P, D],
//            nonpad_kv_seqlen (i64 [B], opset 24+)
//   outputs  Y (3-D [B, Sq, q_heads * Dv] or 4-D [B, q_heads, Sq, Dv]), present_key / present_value
//            [B, kv_heads, P + Skv, D], qk_matmul_output [B, q_heads, Sq, P + Skv] (qk_matmul_output_mode 0-3)
//
// Every unit of work is one batch and kv head (all its q heads stacked as rows of one GEMM where their rows are
// equally spaced: 4-D inputs, or one query token), or one q head: scores = Q.K^T and Y = P.V run on the f32
// GEMM driver (a unit of few rows, as in decoding, on the table's attention row kernels), the masking and
// softmax row by row in between. f16 tensors are widened to f32 in the workspace and the outputs rounded back:
// the compute is f32 whatever softmax_precision says.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "base/checked.h"
#include "compute/gemm.h"
#include "kernels/ref/ref.h"
#include "ops/common.h"

namespace pyrt::ops {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
// Units of at most this many query rows run on the kernel table's attention row kernels instead of the GEMM.
constexpr size_t kRowKernelRows = 4;
constexpr int64_t kMaxLen = int64_t(1) << 40;

enum In : size_t { kQ = 0, kK, kV, kMask, kPastK, kPastV, kNonpad };
enum Out : size_t { kY = 0, kPresentK, kPresentV, kQk };

class OnnxAttention final : public Op {
 public:
  explicit OnnxAttention(const NodeContext& ctx) : kt_(ctx.kernels()) {
    ctx.expect_inputs(3, 7);
    for (size_t i = 0; i < 3; ++i)
      if (!ctx.has_input(i)) ctx.fail(std::string("input ") + "QKV"[i] + " may not be left out");
    if (ctx.num_outputs() < 1 || ctx.num_outputs() > 4) ctx.fail("has 1 to 4 outputs, got " + std::to_string(ctx.num_outputs()));
    has_mask_ = ctx.has_input(kMask);
    has_past_ = ctx.has_input(kPastK);
    has_nonpad_ = ctx.has_input(kNonpad);
    if (has_past_ != ctx.has_input(kPastV)) ctx.fail("past_key and past_value must be given together");
    if (has_past_ && has_nonpad_) ctx.fail("nonpad_kv_seqlen cannot be combined with past_key / past_value");
    outputs_ = ctx.num_outputs();
    q_heads_ = ctx.attr_int("q_num_heads", 0);
    kv_heads_ = ctx.attr_int("kv_num_heads", 0);
    if (q_heads_ < 0 || kv_heads_ < 0) ctx.fail("q_num_heads and kv_num_heads must be positive");
    if (ctx.attr("scale")) {
      scale_ = ctx.attr_float("scale", 1.f);
      if (!std::isfinite(scale_)) ctx.fail("scale must be finite");
      has_scale_ = true;
    }
    causal_ = ctx.attr_int("is_causal", 0) != 0;
    softcap_ = ctx.attr_float("softcap", 0.f);
    if (!(softcap_ >= 0.f) || !std::isfinite(softcap_)) ctx.fail("softcap must be finite and >= 0");
    mode_ = ctx.attr_int("qk_matmul_output_mode", 0);
    if (mode_ < 0 || mode_ > 3) ctx.fail("qk_matmul_output_mode must be 0, 1, 2 or 3, got " + std::to_string(mode_));
    // The precision the softmax runs in: f32 here for every allowed value (wider than f16 / bf16 asks for).
    const int64_t sp = ctx.attr_int("softmax_precision", 1);
    if (sp != 1 && sp != 10 && sp != 11 && sp != 16)
      ctx.fail("softmax_precision must be 1, 10, 11 or 16 (an ONNX float type), got " + std::to_string(sp));
    left_ = ctx.attr_int("left_window_size", -1);
    right_ = ctx.attr_int("right_window_size", -1);
    if (left_ < -1 || right_ < -1) ctx.fail("left_window_size and right_window_size must be -1 or >= 0");
  }

  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    dt_ = in[kQ].dtype;
    if (dt_ != spec::kF32 && dt_ != spec::kF16) fail(std::string("Q must be f32 or f16, got ") + spec::dtype_name(dt_));
    for (size_t i : {kK, kV, kPastK, kPastV}) {
      if ((i == kPastK || i == kPastV) && !has_past_) continue;
      if (in[i].dtype != dt_)
        fail(std::string(name(i)) + " must have Q's type " + spec::dtype_name(dt_) + ", got " + spec::dtype_name(in[i].dtype));
    }
    const Shape &q = in[kQ].shape, &k = in[kK].shape, &v = in[kV].shape;
    if (q.size() != k.size() || q.size() != v.size() || (q.size() != 3 && q.size() != 4))
      fail("Q, K and V must all be 3-D or all 4-D, got " + shape_str(q) + ", " + shape_str(k) + ", " + shape_str(v));
    rank3_ = q.size() == 3;
    b_ = q[0];
    if (k[0] != b_ || v[0] != b_) fail("Q, K and V must have the same batch size, got " + shape_str(q) + ", " + shape_str(k) + ", " + shape_str(v));
    if (rank3_) {
      if (q_heads_ < 1 || kv_heads_ < 1) fail("3-D inputs need the q_num_heads and kv_num_heads attributes");
      hq_ = q_heads_, hkv_ = kv_heads_;
      sq_ = q[1], skv_ = k[1];
      if (v[1] != skv_) fail("K and V must have the same sequence length, got " + shape_str(k) + ", " + shape_str(v));
      if (q[2] % hq_) fail("Q's hidden size " + std::to_string(q[2]) + " does not split into " + std::to_string(hq_) + " heads");
      if (k[2] % hkv_) fail("K's hidden size " + std::to_string(k[2]) + " does not split into " + std::to_string(hkv_) + " heads");
      if (v[2] % hkv_) fail("V's hidden size " + std::to_string(v[2]) + " does not split into " + std::to_string(hkv_) + " heads");
      dk_ = q[2] / hq_, dv_ = v[2] / hkv_;
      if (k[2] / hkv_ != dk_)
        fail("Q and K head sizes differ: " + std::to_string(dk_) + " and " + std::to_string(k[2] / hkv_));
    } else {
      hq_ = q[1], hkv_ = k[1], sq_ = q[2], skv_ = k[2], dk_ = q[3], dv_ = v[3];
      if (v[1] != hkv_ || v[2] != skv_)
        fail("K and V must have the same heads and sequence length, got " + shape_str(k) + ", " + shape_str(v));
      if (k[3] != dk_) fail("Q and K head sizes differ: " + shape_str(q) + ", " + shape_str(k));
      if ((q_heads_ && q_heads_ != hq_) || (kv_heads_ && kv_heads_ != hkv_))
        fail("q_num_heads / kv_num_heads do not match the 4-D inputs' head counts " + std::to_string(hq_) + " / " +
             std::to_string(hkv_));
    }
    if (hq_ < 1 || hkv_ < 1) fail("head counts must be >= 1");
    if (dk_ < 1 || dv_ < 1) fail("head sizes must be >= 1");
    if (hq_ % hkv_)
      fail(std::to_string(hq_) + " query heads are not a multiple of " + std::to_string(hkv_) + " key/value heads");
    past_ = 0;
    if (has_past_) {
      const Shape &pk = in[kPastK].shape, &pv = in[kPastV].shape;
      if (pk.size() != 4 || pk[0] != b_ || pk[1] != hkv_ || pk[3] != dk_)
        fail("past_key must be [" + std::to_string(b_) + ", " + std::to_string(hkv_) + ", P, " + std::to_string(dk_) +
             "], got " + shape_str(pk));
      if (pv.size() != 4 || pv[0] != b_ || pv[1] != hkv_ || pv[2] != pk[2] || pv[3] != dv_)
        fail("past_value must be [" + std::to_string(b_) + ", " + std::to_string(hkv_) + ", " + std::to_string(pk[2]) +
             ", " + std::to_string(dv_) + "], got " + shape_str(pv));
      past_ = pk[2];
    }
    t_ = past_ + skv_;
    mask_bool_ = mask_f16_ = false;
    if (has_mask_) {
      const TensorDesc& m = in[kMask];
      if (m.dtype == spec::kBool) mask_bool_ = true;
      else if (m.dtype != spec::kF32 && m.dtype != spec::kF16)
        fail(std::string("attn_mask must be bool, f32 or f16, got ") + spec::dtype_name(m.dtype));
      const Shape& ms = m.shape;
      if (ms.empty() || ms.size() > 4) fail("attn_mask must have rank 1 to 4, got " + shape_str(ms));
      tm_ = ms.back();
      mask_f16_ = m.dtype == spec::kF16;
      mask_numel_ = m.numel();
      if (tm_ > t_)
        fail("attn_mask's last dimension " + std::to_string(tm_) + " exceeds the total key length " + std::to_string(t_));
      // The mask broadcasts (numpy rules) to [B, q_heads, Sq, *]; its last dimension is padded to the total key
      // length with masked positions, never broadcast.
      const Shape full = {b_, hq_, sq_, tm_};
      for (size_t d = 0; d + 1 < ms.size(); ++d) {
        const int64_t want = full[4 - ms.size() + d];
        if (ms[d] != 1 && ms[d] != want)
          fail("attn_mask " + shape_str(ms) + " does not broadcast to [batch, q_heads, q_len, kv_len] = [" +
               std::to_string(b_) + ", " + std::to_string(hq_) + ", " + std::to_string(sq_) + ", " + std::to_string(t_) + "]");
      }
      mstride_ = broadcast_strides(ms, full);
    }
    if (has_nonpad_) {
      const TensorDesc& n = in[kNonpad];
      if (n.dtype != spec::kI64) fail(std::string("nonpad_kv_seqlen must be i64, got ") + spec::dtype_name(n.dtype));
      if (n.shape != Shape{b_}) fail("nonpad_kv_seqlen must be [" + std::to_string(b_) + "], got " + shape_str(n.shape));
    }
    // Scratch sizes below multiply two of these dimensions; bound them so no product wraps.
    uint64_t cells = 0;
    if (!mul_ok(uint64_t(sq_) * uint64_t(hq_ / hkv_), uint64_t(t_), &cells) || cells > (uint64_t(1) << 40))
      fail("the attention scores [" + std::to_string(sq_) + " x " + std::to_string(t_) + "] are too large");

    out[kY] = {rank3_ ? Shape{b_, sq_, hq_ * dv_} : Shape{b_, hq_, sq_, dv_}, dt_};
    if (outputs_ > kPresentK) out[kPresentK] = {{b_, hkv_, t_, dk_}, dt_};
    if (outputs_ > kPresentV) out[kPresentV] = {{b_, hkv_, t_, dv_}, dt_};
    if (outputs_ > kQk) out[kQk] = {{b_, hq_, sq_, t_}, dt_};

    // Heads of one kv group stacked as the rows of one GEMM when their rows are equally spaced.
    const int64_t r = hq_ / hkv_;
    hs_ = (!rank3_ || sq_ == 1) ? r : 1;
    units_ = b_ * hkv_ * (r / hs_);
    plan_workspace();
  }

  size_t workspace_bytes(const std::vector<TensorDesc>&, const std::vector<TensorDesc>&, int threads) const override {
    const size_t m = size_t(hs_ * sq_), t = size_t(t_);
    const size_t g1 = std::max(gemm::workspace_size(m, t, size_t(dk_), 1), gemm::workspace_size(m, size_t(dv_), t, 1));
    size_t total = fixed_ + size_t(std::max(threads, 1)) * (align64(g1) + align64(m * t * 4));
    if (threads > 1)  // one unit at a time with the GEMM split over the pool
      total += align64(std::max(gemm::workspace_size(m, t, size_t(dk_), threads),
                                gemm::workspace_size(m, size_t(dv_), t, threads)));
    return total;
  }

  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    uint8_t* ws = static_cast<uint8_t*>(ctx.workspace);
    const bool f16 = dt_ == spec::kF16;
    // f32 views of the inputs (f16 ones widened into the workspace)
    auto widen = [&](size_t i, size_t at) -> const float* {
      if (!(i == kMask ? in_f16_mask_ : f16)) return static_cast<const float*>(in[i]);
      float* dst = reinterpret_cast<float*>(ws + at);
      kt_.f16_to_f32(static_cast<const uint16_t*>(in[i]), dst, size_t(numel_[i]));
      return dst;
    };
    const float* q = widen(kQ, off_[kQ]);
    const float* k = widen(kK, off_[kK]);
    const float* v = widen(kV, off_[kV]);
    const float* pk = has_past_ ? widen(kPastK, off_[kPastK]) : nullptr;
    const float* pv = has_past_ ? widen(kPastV, off_[kPastV]) : nullptr;
    mask_f_ = nullptr, mask_b_ = nullptr;
    if (has_mask_) {
      if (mask_bool_) mask_b_ = static_cast<const uint8_t*>(in[kMask]);
      else mask_f_ = widen(kMask, off_[kMask]);
    }
    nonpad_ = has_nonpad_ ? static_cast<const int64_t*>(in[kNonpad]) : nullptr;
    // f32 outputs: the output itself, or workspace rounded to f16 at the end
    y_ = f16 ? reinterpret_cast<float*>(ws + off_out_[kY]) : static_cast<float*>(out[kY]);
    qk_ = outputs_ > kQk ? (f16 ? reinterpret_cast<float*>(ws + off_out_[kQk]) : static_cast<float*>(out[kQk])) : nullptr;

    // Keys and values: the past followed by the new ones, [B, kv_heads, T, D], when there is a past or a present
    // output; else K and V are read where they are.
    const int64_t k_row = rank3_ ? hkv_ * dk_ : dk_, v_row = rank3_ ? hkv_ * dv_ : dv_;
    kcat_ = vcat_ = nullptr;
    if (cat_k()) kcat_ = concat(ctx, f16 || outputs_ <= kPresentK ? reinterpret_cast<float*>(ws + off_out_[kPresentK]) : static_cast<float*>(out[kPresentK]), pk, k, dk_);
    if (cat_v()) vcat_ = concat(ctx, f16 || outputs_ <= kPresentV ? reinterpret_cast<float*>(ws + off_out_[kPresentV]) : static_cast<float*>(out[kPresentV]), pv, v, dv_);

    if (t_ == 0) std::fill(y_, y_ + b_ * hq_ * sq_ * dv_, 0.f);  // no keys: every row is fully masked
    if (t_ == 0 || sq_ == 0) units_run_ = 0;
    else units_run_ = units_;
    const int64_t r = hq_ / hkv_, per_group = r / hs_;
    const size_t m = size_t(hs_ * sq_), t = size_t(t_);
    const size_t g1 = std::max(gemm::workspace_size(m, t, size_t(dk_), 1), gemm::workspace_size(m, size_t(dv_), t, 1));
    const size_t per_thread = align64(g1) + align64(m * t * 4);
    uint8_t* thread_ws = ws + fixed_;
    // Where unit u's operands are: batch b, kv head g, first q head h0 (hs_ heads).
    auto unit = [&](size_t u, float* scores, ThreadPool* pool, void* gws) {
      const int64_t b = int64_t(u) / (hkv_ * per_group), g = int64_t(u) / per_group % hkv_;
      const int64_t h0 = g * r + int64_t(u) % per_group * hs_;
      const float* qa;
      size_t lda;
      if (rank3_) qa = q + (b * sq_ * hq_ + h0) * dk_, lda = size_t(hs_ > 1 ? dk_ : hq_ * dk_);
      else qa = q + (b * hq_ + h0) * sq_ * dk_, lda = size_t(dk_);
      const float *ka, *va;
      size_t ldk, ldv;
      if (kcat_) ka = kcat_ + (b * hkv_ + g) * t_ * dk_, ldk = size_t(dk_);
      else if (rank3_) ka = k + (b * skv_ * hkv_ + g) * dk_, ldk = size_t(k_row);
      else ka = k + (b * hkv_ + g) * skv_ * dk_, ldk = size_t(k_row);
      if (vcat_) va = vcat_ + (b * hkv_ + g) * t_ * dv_, ldv = size_t(dv_);
      else if (rank3_) va = v + (b * skv_ * hkv_ + g) * dv_, ldv = size_t(v_row);
      else va = v + (b * hkv_ + g) * skv_ * dv_, ldv = size_t(v_row);
      float* ya;
      size_t ldy;
      if (rank3_) ya = y_ + (b * sq_ * hq_ + h0) * dv_, ldy = size_t(hs_ > 1 ? dv_ : hq_ * dv_);
      else ya = y_ + (b * hq_ + h0) * sq_ * dv_, ldy = size_t(dv_);
      auto rows = [&](size_t r0, size_t r1) {
        for (size_t row = r0; row < r1; ++row)
          softmax_row(b, h0 + int64_t(row) / sq_, int64_t(row) % sq_, scores + row * t);
      };
      if (m <= kRowKernelRows && !pool) {
        // A few query rows (decode): the row kernels stream K and V once, where the GEMM would pack them first.
        for (size_t row = 0; row < m; ++row) kt_.attn_scores(qa + row * lda, ka, ldk, t, size_t(dk_), 1.f, scores + row * t);
        rows(0, m);
        for (size_t row = 0; row < m; ++row) kt_.attn_values(scores + row * t, va, ldv, t, size_t(dv_), ya + row * ldy);
        return;
      }
      const gemm::Epilogue ep;
      gemm::gemm(kt_, qa, lda, false, ka, ldk, true, m, t, size_t(dk_), scores, t, ep, pool, gws);
      if (pool) parallel(ctx, m, 4, [&](size_t r0, size_t r1, int) { rows(r0, r1); });
      else rows(0, m);
      gemm::gemm(kt_, scores, t, false, va, ldv, false, m, size_t(dv_), t, ya, ldy, ep, pool, gws);
    };
    if (ctx.pool && ctx.threads > 1 && units_run_ < ctx.threads) {
      // Few units (one sequence, few heads): one at a time, each GEMM and the softmax rows over the pool.
      float* scores = reinterpret_cast<float*>(thread_ws + align64(g1));
      void* gws = thread_ws + size_t(ctx.threads) * per_thread;
      for (size_t u = 0; u < size_t(units_run_); ++u) unit(u, scores, ctx.pool, gws);
    } else {
      parallel(ctx, size_t(units_run_), 1, [&](size_t u0, size_t u1, int tid) {
        uint8_t* mine = thread_ws + size_t(tid) * per_thread;
        for (size_t u = u0; u < u1; ++u) unit(u, reinterpret_cast<float*>(mine + align64(g1)), nullptr, mine);
      });
    }

    if (f16) {
      narrow(ctx, y_, out[kY], size_t(b_ * hq_ * sq_ * dv_));
      if (outputs_ > kPresentK) narrow(ctx, kcat_, out[kPresentK], size_t(b_ * hkv_ * t_ * dk_));
      if (outputs_ > kPresentV) narrow(ctx, vcat_, out[kPresentV], size_t(b_ * hkv_ * t_ * dv_));
      if (qk_) narrow(ctx, qk_, out[kQk], size_t(b_ * hq_ * sq_ * t_));
    }
  }

  std::string kernel() const override {
    return std::string(size_t(hs_ * sq_) <= kRowKernelRows ? "attention-rows-" : "attention-gemm-") + kt_.name;
  }

 private:
  static const char* name(size_t i) {
    static const char* const names[] = {"Q", "K", "V", "attn_mask", "past_key", "past_value", "nonpad_kv_seqlen"};
    return names[i];
  }
  bool cat_k() const { return has_past_ || outputs_ > kPresentK; }
  bool cat_v() const { return has_past_ || outputs_ > kPresentV; }

  // Workspace offsets of the f32 copies (f16 inputs, f16 outputs, concatenated keys / values); the per-thread
  // scratch follows at fixed_.
  void plan_workspace() {
    const bool f16 = dt_ == spec::kF16;
    size_t at = 0;
    auto take = [&](int64_t n) {
      const size_t o = at;
      at += align64(size_t(n) * 4);
      return o;
    };
    const int64_t nq = b_ * sq_ * hq_ * dk_, nk = b_ * skv_ * hkv_ * dk_, nv = b_ * skv_ * hkv_ * dv_;
    numel_[kQ] = nq, numel_[kK] = nk, numel_[kV] = nv;
    numel_[kPastK] = b_ * hkv_ * past_ * dk_, numel_[kPastV] = b_ * hkv_ * past_ * dv_;
    numel_[kMask] = 0;
    in_f16_mask_ = false;
    std::fill(std::begin(off_), std::end(off_), size_t(0));
    std::fill(std::begin(off_out_), std::end(off_out_), size_t(0));
    if (f16) {
      off_[kQ] = take(nq), off_[kK] = take(nk), off_[kV] = take(nv);
      if (has_past_) off_[kPastK] = take(numel_[kPastK]), off_[kPastV] = take(numel_[kPastV]);
      off_out_[kY] = take(b_ * hq_ * sq_ * dv_);
      if (outputs_ > kQk) off_out_[kQk] = take(b_ * hq_ * sq_ * t_);
    }
    if (has_mask_ && !mask_bool_ && mask_dtype_f16()) {
      in_f16_mask_ = true;
      numel_[kMask] = mask_numel_;
      off_[kMask] = take(mask_numel_);
    }
    if (cat_k() && (f16 || outputs_ <= kPresentK)) off_out_[kPresentK] = take(b_ * hkv_ * t_ * dk_);
    if (cat_v() && (f16 || outputs_ <= kPresentV)) off_out_[kPresentV] = take(b_ * hkv_ * t_ * dv_);
    fixed_ = at;
  }
  bool mask_dtype_f16() const { return mask_f16_; }

  // dst [B, kv_heads, T, d] = past [B, kv_heads, P, d] then the new rows (3-D [B, Skv, kv_heads * d] or 4-D).
  float* concat(const RunContext& ctx, float* dst, const float* past, const float* x, int64_t d) const {
    const size_t row = size_t(d) * 4;
    parallel(ctx, size_t(b_ * hkv_), 1, [&](size_t u0, size_t u1, int) {
      for (size_t u = u0; u < u1; ++u) {
        const int64_t b = int64_t(u) / hkv_, g = int64_t(u) % hkv_;
        float* o = dst + int64_t(u) * t_ * d;
        if (past_) std::memcpy(o, past + int64_t(u) * past_ * d, size_t(past_) * row);
        o += past_ * d;
        if (rank3_)
          for (int64_t s = 0; s < skv_; ++s) std::memcpy(o + s * d, x + ((b * skv_ + s) * hkv_ + g) * d, row);
        else if (skv_)
          std::memcpy(o, x + int64_t(u) * skv_ * d, size_t(skv_) * row);
      }
    });
    return dst;
  }

  void narrow(const RunContext& ctx, const float* src, void* dst, size_t n) const {
    uint16_t* h = static_cast<uint16_t*>(dst);
    parallel(ctx, n, 4096, [&](size_t i0, size_t i1, int) {
      for (size_t i = i0; i < i1; ++i) h[i] = kernels::ref::f32_to_f16_one(src[i]);
    });
  }

  // One row of scores (query i of q head h in batch b) into probabilities: scale, softcap, mask, softmax.
  void softmax_row(int64_t b, int64_t h, int64_t i, float* x) const {
    const size_t t = size_t(t_);
    float* qk = qk_ ? qk_ + ((b * hq_ + h) * sq_ + i) * t_ : nullptr;
    // The scale as the spec applies it: sqrt(scale) on each of Q and K, rounded to the compute type.
    const float s = has_scale_ ? float(std::sqrt(double(scale_))) : float(std::sqrt(1.0 / std::sqrt(double(dk_))));
    const float alpha = s * s;
    for (size_t j = 0; j < t; ++j) x[j] *= alpha;
    // Mode 0 is the scaled Q.K^T before softcap, as the spec and its function body say (onnx's reference
    // evaluator returns it softcapped).
    if (qk && mode_ == 0) std::memcpy(qk, x, t * 4);
    if (softcap_ > 0.f) {
      for (size_t j = 0; j < t; ++j) x[j] /= softcap_;
      kt_.unary(ActParams{Act::kTanh, 0.f, 0.f}, x, x, t);
      for (size_t j = 0; j < t; ++j) x[j] *= softcap_;
    }
    if (qk && mode_ == 1) std::memcpy(qk, x, t * 4);
    // Causal, window, padding and a short mask each allow a contiguous range of keys [lo, hi): positions outside
    // it get -inf. The offset aligns the query block to the end of the keys that precede it.
    int64_t lo = 0, hi = t_;
    // nonpad_kv_seqlen is run-time data: bounded (far beyond any key length) so the arithmetic cannot overflow
    const int64_t np = nonpad_ ? std::clamp<int64_t>(nonpad_[b], -kMaxLen, kMaxLen) : 0;
    const int64_t off = has_past_ ? past_ : nonpad_ ? np - sq_ : 0;
    const int64_t p = i + off;
    if (causal_) hi = std::min(hi, p + 1);
    if (left_ >= 0) lo = std::max(lo, p - left_);
    if (right_ >= 0) hi = std::min(hi, p + right_ + 1);
    if (nonpad_) hi = std::min(hi, np);
    if (has_mask_) hi = std::min(hi, tm_);
    lo = std::max<int64_t>(lo, 0);
    hi = std::max(hi, lo);
    bool any = hi > lo;  // a key the bias does not mask: a row without one is zeros (the spec's guard)
    if (has_mask_ && hi > lo) {
      const int64_t at = b * mstride_[0] + h * mstride_[1] + i * mstride_[2];
      any = false;
      if (mask_b_) {
        const uint8_t* mb = mask_b_ + at;
        for (int64_t j = lo; j < hi; ++j) {
          if (mb[j * mstride_[3]]) any = true;
          else x[j] = kNegInf;
        }
      } else {
        const float* mf = mask_f_ + at;
        for (int64_t j = lo; j < hi; ++j) {
          const float mv = mf[j * mstride_[3]];
          any = any || mv != kNegInf;
          x[j] += mv;
        }
      }
    }
    for (int64_t j = 0; j < lo; ++j) x[j] = kNegInf;
    for (int64_t j = hi; j < t_; ++j) x[j] = kNegInf;
    if (qk && mode_ == 2) std::memcpy(qk, x, t * 4);
    float mx = kNegInf;
    for (int64_t j = lo; j < hi; ++j) mx = std::max(mx, x[j]);
    std::fill(x, x + lo, 0.f);
    std::fill(x + hi, x + t, 0.f);
    if (!any || mx == kNegInf) {
      std::fill(x + lo, x + hi, 0.f);
    } else {
      float* xs = x + lo;
      const size_t n = size_t(hi - lo);
      kt_.binary(kernels::kSub, xs, 1, &mx, 0, xs, n);
      kt_.unary(ActParams{Act::kExp, 0.f, 0.f}, xs, xs, n);
      float sum = 0.f;
      for (size_t j = 0; j < n; ++j) sum += xs[j];
      const float inv = 1.f / sum;
      for (size_t j = 0; j < n; ++j) xs[j] *= inv;
    }
    if (qk && mode_ == 3) std::memcpy(qk, x, t * 4);
  }

  const kernels::Table& kt_;
  // attributes and which optional inputs / outputs there are
  int64_t q_heads_ = 0, kv_heads_ = 0, mode_ = 0, left_ = -1, right_ = -1;
  float scale_ = 1.f, softcap_ = 0.f;
  bool has_scale_ = false, causal_ = false;
  bool has_mask_ = false, has_past_ = false, has_nonpad_ = false;
  size_t outputs_ = 1;
  // this plan's shapes
  uint8_t dt_ = spec::kF32;
  bool rank3_ = false, mask_bool_ = false, mask_f16_ = false, in_f16_mask_ = false;
  int64_t b_ = 0, hq_ = 1, hkv_ = 1, sq_ = 0, skv_ = 0, past_ = 0, t_ = 0, dk_ = 1, dv_ = 1, tm_ = 0;
  int64_t hs_ = 1, units_ = 0, units_run_ = 0, mask_numel_ = 0;
  std::vector<int64_t> mstride_;
  int64_t numel_[7] = {};
  size_t off_[7] = {}, off_out_[4] = {}, fixed_ = 0;
  // this run's data
  const float* mask_f_ = nullptr;
  const uint8_t* mask_b_ = nullptr;
  const int64_t* nonpad_ = nullptr;
  float *y_ = nullptr, *qk_ = nullptr, *kcat_ = nullptr, *vcat_ = nullptr;
};

}  // namespace

std::unique_ptr<Op> make_onnx_attention(const NodeContext& ctx) { return std::make_unique<OnnxAttention>(ctx); }

}  // namespace pyrt::ops
