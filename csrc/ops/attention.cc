// CausalAttention (pyruntime's operator): multi-head causal self-attention whose keys and values stay in a
// cache owned by the op, so a decoder runs a prompt once (prefill: T tokens) and then one token per run
// (decode) at the cost of one token's compute, not a re-run of the sequence.
//
//   inputs   q [B, T, H hd], k and v [B, T, KV hd] (H = num_heads, KV = num_kv_heads), or one packed qkv
//            [B, T, (H + 2 KV) hd] (GPT-2's c_attn, Phi-3's qkv_proj)
//   output   [B, T, H hd]: heads concatenated, as the output projection expects
//   attrs    num_heads; num_kv_heads (default num_heads: multi-head; fewer: grouped-query attention, H / KV
//            query heads share a key/value head, and the cache holds only the KV heads; 1: multi-query);
//            max_context (the cache's capacity in tokens); scale (0: 1/sqrt(head_dim));
//            rotary_dim (0: none; else the first rotary_dim dims of each q/k head are rotated by position,
//            the "rotate half" convention of GPT-NeoX and Llama), rotary_base (10000) or rotary_inv_freq (the
//            rotary_dim / 2 frequencies themselves, for scaled RoPE such as Llama 3's); sliding_window (0: none;
//            W: a token attends to itself and the W - 1 before it, Mistral's and Gemma 2's local layers);
//            softcap (0: none; c: scores become c tanh(s / c) after scaling, Gemma 2); kv_dtype "f32"
//            (default), "f16" or "i8": the cache's element type. f16 halves the bytes a decode step streams, at
//            f16's rounding of keys and values; i8 stores each token's key and value of each head as int8 with
//            one f32 scale (max |x| / 127, rounded to nearest): hd + 4 bytes per vector instead of 4 hd.
//
// Token t of a run sits at position len + t, where len is the tokens already cached, and attends to
// positions 0..len+t. A run of many tokens on an f32 cache (a prompt) goes through the GEMM a tile of queries at
// a time: S = Q K^T for up to kTile query rows of a head against every key they may see, masked, softmax,
// Y = P V (an f16 / i8 cache's keys and values widened to f32 per tile); one token (decoding) runs row by row
// on the attention kernels, which read the cache as stored. The cache grows (doubling) up to max_context, so a file that declares a huge context
// costs memory only when a sequence gets that long. A run writes its keys and values past `len` and the
// session commits them when the whole graph has run (commit_state): a failed run leaves the cache as it was.
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

constexpr int64_t kMaxContext = int64_t(1) << 20;
constexpr size_t kTile = 32;                     // query rows of a head per GEMM tile (prefill)
constexpr size_t kTileScoreBytes = size_t(4) << 20;  // a tile's scores: fewer rows for a very long context
// An f16 / i8 cache's keys and values a tile reads are widened to f32 first; past this many bytes of them (a very
// long context) a prompt runs row by row instead.
constexpr size_t kWidenBytes = size_t(8) << 20;

// Max and sum over 8 independent lanes: the compiler vectorizes them (one chain would wait on each add).
float lane_max(const float* x, size_t n) {
  float m[8];
  for (size_t l = 0; l < 8; ++l) m[l] = -std::numeric_limits<float>::infinity();
  size_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (size_t l = 0; l < 8; ++l) m[l] = std::max(m[l], x[j + l]);
  for (; j < n; ++j) m[0] = std::max(m[0], x[j]);
  return *std::max_element(m, m + 8);
}
float lane_sum(const float* x, size_t n) {
  float s[8] = {};
  size_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (size_t l = 0; l < 8; ++l) s[l] += x[j + l];
  for (; j < n; ++j) s[0] += x[j];
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

class CausalAttention final : public Op {
 public:
  explicit CausalAttention(const NodeContext& ctx) : kt_(ctx.kernels()) {
    ctx.expect_inputs(1, 3);
    if (ctx.num_inputs() == 2) ctx.fail("takes q, k and v (3 inputs) or one packed qkv input");
    for (size_t i = 0; i < ctx.num_inputs(); ++i)
      if (!ctx.has_input(i)) ctx.fail("input " + std::to_string(i) + " may not be left out");
    heads_ = ctx.attr_int("num_heads", 0);
    kv_heads_ = ctx.attr_int("num_kv_heads", heads_);
    window_ = ctx.attr_int("sliding_window", 0);
    softcap_ = ctx.attr_float("softcap", 0.f);
    max_ctx_ = ctx.attr_int("max_context", 0);
    scale_ = ctx.attr_float("scale", 0.f);
    rot_ = ctx.attr_int("rotary_dim", 0);
    base_ = ctx.attr_float("rotary_base", 10000.f);
    if (heads_ < 1 || heads_ > 4096) ctx.fail("num_heads must be in [1, 4096], got " + std::to_string(heads_));
    if (kv_heads_ < 1 || heads_ % kv_heads_)
      ctx.fail("num_kv_heads must be >= 1 and divide num_heads " + std::to_string(heads_) + ", got " +
               std::to_string(kv_heads_));
    if (window_ < 0) ctx.fail("sliding_window must be >= 0 (0: none), got " + std::to_string(window_));
    if (!(softcap_ >= 0.f) || !std::isfinite(softcap_)) ctx.fail("softcap must be finite and >= 0 (0: none)");
    if (max_ctx_ < 1 || max_ctx_ > kMaxContext)
      ctx.fail("max_context must be in [1, 2^20], got " + std::to_string(max_ctx_));
    if (!(scale_ >= 0.f) || !std::isfinite(scale_)) ctx.fail("scale must be finite and >= 0");
    if (rot_ < 0 || rot_ % 2) ctx.fail("rotary_dim must be even and >= 0, got " + std::to_string(rot_));
    if (rot_ && !(base_ > 1.f && std::isfinite(base_))) ctx.fail("rotary_base must be finite and > 1");
    given_freq_ = ctx.attr_floats("rotary_inv_freq");
    if (!given_freq_.empty() && given_freq_.size() != size_t(rot_ / 2))
      ctx.fail("rotary_inv_freq needs rotary_dim / 2 = " + std::to_string(rot_ / 2) + " values, got " +
               std::to_string(given_freq_.size()));
    for (float f : given_freq_)
      if (!(f > 0.f) || !std::isfinite(f)) ctx.fail("rotary_inv_freq values must be finite and > 0");
    packed_ = ctx.num_inputs() == 1;
    const std::string kv = ctx.attr_string("kv_dtype", "f32");
    if (kv != "f32" && kv != "f16" && kv != "i8") ctx.fail("kv_dtype must be 'f32', 'f16' or 'i8', got '" + kv + "'");
    f16_ = kv == "f16", i8_ = kv == "i8";
  }

  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    for (size_t i = 0; i < in.size(); ++i) require_f32(*this, in[i], i == 0 ? (packed_ ? "qkv" : "q") : i == 1 ? "k" : "v");
    const Shape& q = in[0].shape;
    if (q.size() != 3) fail("inputs must be [batch, tokens, features], got " + shape_str(q));
    const int64_t slots = packed_ ? heads_ + 2 * kv_heads_ : heads_;  // head-sized slices of input 0's rows
    if (q[2] % slots)
      fail(std::to_string(q[2]) + " features do not split into " +
           (packed_ ? std::to_string(heads_) + " query heads and twice " + std::to_string(kv_heads_) + " key/value heads"
                    : std::to_string(heads_) + " heads"));
    b_ = q[0], t_ = q[1], hd_ = q[2] / slots, d_ = heads_ * hd_;
    if (hd_ < 1) fail("heads must have at least one feature");
    if (!packed_) {
      const Shape kv{b_, t_, kv_heads_ * hd_};
      if (in[1].shape != kv || in[2].shape != kv)
        fail("k and v must be " + shape_str(kv) + " (" + std::to_string(kv_heads_) + " key/value heads of " +
             std::to_string(hd_) + " beside q " + shape_str(q) + "), got " + shape_str(in[1].shape) + ", " +
             shape_str(in[2].shape));
    }
    if (rot_ > hd_) fail("rotary_dim " + std::to_string(rot_) + " exceeds the head size " + std::to_string(hd_));
    uint64_t cells = 0;  // the full cache, [B, KV, max_context, head_dim] twice, must be addressable
    if (!mul_ok(uint64_t(b_), uint64_t(kv_heads_), &cells) || !mul_ok(cells, uint64_t(max_ctx_), &cells) ||
        !mul_ok(cells, (uint64_t(hd_) + 1) * 8, &cells))  // i8: hd + 4 bytes a vector, twice
      fail("the key/value cache for batch " + std::to_string(b_) + " overflows");
    inv_freq_.resize(size_t(rot_ / 2));
    for (size_t i = 0; i < inv_freq_.size(); ++i)  // as torch computes it: in f32
      inv_freq_[i] = given_freq_.empty() ? 1.f / std::pow(base_, float(2 * i) / float(rot_)) : given_freq_[i];
    out[0] = {{b_, t_, d_}, spec::kF32};
  }

  size_t workspace_bytes(const std::vector<TensorDesc>&, const std::vector<TensorDesc>&, int threads) const override {
    return size_t(std::max(threads, 1)) * std::max(per_thread(), tiled() ? tile_per_thread() : 0);
  }

  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    if (len_ + t_ > max_ctx_)
      pyrt::fail(Status::kLimit, where + ": context overflow: " + std::to_string(len_) + " cached + " +
                                     std::to_string(t_) + " new tokens exceed max_context " + std::to_string(max_ctx_) +
                                     " (reset the state to start a new sequence)");
    if (len_ > 0 && b_ != alloc_b_)
      fail("batch size changed from " + std::to_string(alloc_b_) + " to " + std::to_string(b_) +
           " in the middle of a sequence (reset the state first)");
    if (len_ > 0 && hd_ != alloc_hd_)
      fail("features changed from " + std::to_string(alloc_hd_ * heads_) + " to " + std::to_string(d_) +
           " in the middle of a sequence (reset the state first)");
    reserve(len_ + t_, *ctx.state_room);
    const size_t hd = size_t(hd_), cap = size_t(cap_);
    const float* q = static_cast<const float*>(in[0]);
    const size_t kvd = size_t(kv_heads_ * hd_);
    const float* k = packed_ ? q + d_ : static_cast<const float*>(in[1]);
    const float* v = packed_ ? q + d_ + kvd : static_cast<const float*>(in[2]);
    // floats between tokens: in q, and in k and v
    const size_t row = size_t(packed_ ? size_t(d_) + 2 * kvd : size_t(d_)), kv_row = packed_ ? row : kvd;
    // cos and sin of each new position's angles, once per run (every head and query row of a token shares them)
    const size_t half = size_t(rot_ / 2);
    angles_.resize(size_t(t_) * half * 2);
    for (size_t t = 0; t < size_t(t_); ++t)
      for (size_t i = 0; i < half; ++i) {
        const float a = float(len_ + int64_t(t)) * inv_freq_[i];
        angles_[(t * half + i) * 2] = std::cos(a), angles_[(t * half + i) * 2 + 1] = std::sin(a);
      }
    // the new keys (rotated) and values go into the cache at positions len..len+T
    std::vector<float>& kr = rotated_;
    kr.resize(hd);
    for (int64_t b = 0; b < b_; ++b)
      for (int64_t t = 0; t < t_; ++t) {
        const size_t src = size_t(b * t_ + t) * kv_row, pos = size_t(len_ + t);
        for (int64_t h = 0; h < kv_heads_; ++h) {
          const size_t row_at = size_t(b * kv_heads_ + h) * cap + pos, dst = row_at * hd;
          std::memcpy(kr.data(), k + src + size_t(h) * hd, hd * 4);
          rotate(kr.data(), size_t(t));
          store(kc_, ks_, row_at, dst, kr.data(), hd);
          store(vc_, vs_, row_at, dst, v + src + size_t(h) * hd, hd);
        }
      }
    const float scale = scale_ > 0.f ? scale_ : 1.f / std::sqrt(float(hd_));
    float* y = static_cast<float*>(out[0]);
    uint8_t* ws = static_cast<uint8_t*>(ctx.workspace);
    if (tiled()) {
      run_tiled(ctx, q, row, scale, y, ws);
      pending_ = t_;
      return;
    }
    const size_t rows = size_t(b_ * heads_ * t_);
    parallel(ctx, rows, 1, [&](size_t r0, size_t r1, int tid) {
      float* qr = reinterpret_cast<float*>(ws + size_t(tid) * per_thread());
      float* sc = qr + align64(hd * 4) / 4;
      for (size_t r = r0; r < r1; ++r) {
        const size_t t = r % size_t(t_), bh = r / size_t(t_), h = bh % size_t(heads_), b = bh / size_t(heads_);
        // causal: positions first..len+t, first > 0 only under a sliding window
        const size_t end = size_t(len_) + t + 1;
        const size_t first = window_ > 0 && end > size_t(window_) ? end - size_t(window_) : 0, n = end - first;
        std::memcpy(qr, q + (b * size_t(t_) + t) * row + h * hd, hd * 4);
        rotate(qr, t);
        // the key/value head of query head h; cache rows from `first`
        const size_t kvh = b * size_t(kv_heads_) + h / size_t(heads_ / kv_heads_), srow = kvh * cap + first;
        const size_t at = srow * hd;
        if (f16_) kt_.attn_scores_f16(qr, reinterpret_cast<const uint16_t*>(kc_.data()) + at, hd, n, hd, scale, sc);
        else if (i8_) kt_.attn_scores_i8(qr, reinterpret_cast<const int8_t*>(kc_.data()) + at, ks_.data() + srow, hd, n, hd, scale, sc);
        else kt_.attn_scores(qr, reinterpret_cast<const float*>(kc_.data()) + at, hd, n, hd, scale, sc);
        if (softcap_ > 0.f) {
          const float inv_cap = 1.f / softcap_;
          for (size_t j = 0; j < n; ++j) sc[j] = softcap_ * std::tanh(sc[j] * inv_cap);
        }
        const float m = *std::max_element(sc, sc + n);
        kt_.binary(kernels::kSub, sc, 1, &m, 0, sc, n);
        kt_.unary(ActParams{Act::kExp, 0.f, 0.f}, sc, sc, n);
        float sum = 0.f;
        for (size_t j = 0; j < n; ++j) sum += sc[j];
        const float inv = 1.f / sum;
        for (size_t j = 0; j < n; ++j) sc[j] *= inv;
        float* yr = y + (b * size_t(t_) + t) * size_t(d_) + h * hd;
        if (f16_) kt_.attn_values_f16(sc, reinterpret_cast<const uint16_t*>(vc_.data()) + at, hd, n, hd, yr);
        else if (i8_) kt_.attn_values_i8(sc, reinterpret_cast<const int8_t*>(vc_.data()) + at, vs_.data() + srow, hd, n, hd, yr);
        else kt_.attn_values(sc, reinterpret_cast<const float*>(vc_.data()) + at, hd, n, hd, yr);
      }
    });
    pending_ = t_;
  }

  // Prefill through the GEMM. One work item: up to tile_rows() query rows of every query head that shares one
  // key/value head (grouped-query attention: the keys and values are packed once for the group), stacked head
  // by head: S = Q K^T is (group x rows) x n, O = P V goes to a scratch tile and then, scaled by 1 / sum, to y.
  void run_tiled(const RunContext& ctx, const float* q, size_t row, float scale, float* y, uint8_t* ws) {
    const size_t hd = size_t(hd_), cap = size_t(cap_), T = size_t(t_), tr = tile_rows();
    const size_t group = size_t(heads_ / kv_heads_), tiles = (T + tr - 1) / tr;
    const size_t items = size_t(b_ * kv_heads_) * tiles, most = most_keys(), gm = group * tr;
    parallel(ctx, items, 1, [&](size_t i0, size_t i1, int tid) {
      uint8_t* base = ws + size_t(tid) * tile_per_thread();
      float* qt = reinterpret_cast<float*>(base);                               // gm x hd queries, then outputs
      float* sc = reinterpret_cast<float*>(base + align64(gm * hd * 4));        // gm x n scores
      float* inv = reinterpret_cast<float*>(base + align64(gm * hd * 4) + align64(gm * most * 4));  // gm
      void* gws = reinterpret_cast<uint8_t*>(inv) + align64(gm * 4);
      for (size_t it = i0; it < i1; ++it) {
        const size_t tile = it % tiles, bk = it / tiles, kvh = bk % size_t(kv_heads_), b = bk / size_t(kv_heads_);
        const size_t t0 = tile * tr, rows = std::min(tr, T - t0), m_rows = group * rows;
        // keys [first, end) cover every row of the tile; each row masks the ones it may not see
        const size_t end = size_t(len_) + t0 + rows;
        const size_t first = window_ > 0 && size_t(len_) + t0 + 1 > size_t(window_) ? size_t(len_) + t0 + 1 - size_t(window_) : 0;
        const size_t n = end - first;
        for (size_t j = 0; j < group; ++j)  // rotated, and scaled here: the GEMM then gives scaled scores
          for (size_t r = 0; r < rows; ++r) {
            float* qr = qt + (j * rows + r) * hd;
            std::memcpy(qr, q + (b * T + t0 + r) * row + (kvh * group + j) * hd, hd * 4);
            rotate(qr, t0 + r);
            for (size_t i = 0; i < hd; ++i) qr[i] *= scale;
          }
        const size_t cache_row = (b * size_t(kv_heads_) + kvh) * cap + first;
        const float* kc = reinterpret_cast<const float*>(kc_.data()) + cache_row * hd;
        const float* vc = reinterpret_cast<const float*>(vc_.data()) + cache_row * hd;
        if (f16_ || i8_) {  // widened once per tile: the GEMM reads f32
          float* kw = reinterpret_cast<float*>(static_cast<uint8_t*>(gws) + gemm_ws_bytes());
          float* vw = kw + align64(most * hd * 4) / 4;
          widen(kc_, ks_, cache_row, n, kw);
          widen(vc_, vs_, cache_row, n, vw);
          kc = kw, vc = vw;
        }
        gemm::gemm(kt_, qt, hd, false, kc, hd, true, m_rows, n, hd, sc, n, gemm::Epilogue{}, nullptr, gws);
        for (size_t mr = 0; mr < m_rows; ++mr) {  // exp(s - max) over what the row sees; 1 / sum scales its output
          float* s = sc + mr * n;
          const size_t e = size_t(len_) + t0 + mr % rows + 1;  // this row sees positions [lo, e)
          const size_t lo = window_ > 0 && e > size_t(window_) ? e - size_t(window_) : 0;
          const size_t m_n = e - lo;
          float* sr = s + (lo - first);
          if (softcap_ > 0.f) {
            const float inv_cap = 1.f / softcap_;
            for (size_t j = 0; j < m_n; ++j) sr[j] = softcap_ * std::tanh(sr[j] * inv_cap);
          }
          const float m = lane_max(sr, m_n);
          kt_.binary(kernels::kSub, sr, 1, &m, 0, sr, m_n);
          kt_.unary(ActParams{Act::kExp, 0.f, 0.f}, sr, sr, m_n);
          inv[mr] = 1.f / lane_sum(sr, m_n);
          std::fill(s, sr, 0.f), std::fill(sr + m_n, s + n, 0.f);  // positions the row may not see weigh 0
        }
        // the queries are spent: their tile takes the outputs
        gemm::gemm(kt_, sc, n, false, vc, hd, false, m_rows, hd, n, qt, hd, gemm::Epilogue{}, nullptr, gws);
        for (size_t j = 0; j < group; ++j)
          for (size_t r = 0; r < rows; ++r) {
            const float* o = qt + (j * rows + r) * hd;
            float* yr = y + (b * T + t0 + r) * size_t(d_) + (kvh * group + j) * hd;
            const float f = inv[j * rows + r];
            for (size_t i = 0; i < hd; ++i) yr[i] = o[i] * f;
          }
      }
    });
  }

  void commit_state() override { len_ += pending_, pending_ = 0; }
  void reset_state() override { len_ = pending_ = 0; }
  int64_t state_tokens() const override { return len_; }
  int64_t state_capacity() const override { return max_ctx_; }
  uint64_t state_bytes() const override { return kc_.size() + vc_.size() + 4 * (ks_.size() + vs_.size()); }
  std::string kernel() const override {
    return std::string(f16_ ? "attention-kv-f16-" : i8_ ? "attention-kv-i8-" : "attention-kv-") + kt_.name;
  }

 private:
  size_t per_thread() const { return align64(size_t(hd_) * 4) + align64(size_t(max_ctx_) * 4); }
  // A prompt (more than one token) runs through the GEMM; on an f16 / i8 cache while the keys and values a tile
  // reads, widened to f32, stay within kWidenBytes.
  bool tiled() const { return t_ > 1 && (esize() == 4 || most_keys() * size_t(hd_) * 8 <= kWidenBytes); }

  // Cache rows [row, row + n) of one key/value head as f32 (f16 widened; i8 times each vector's scale).
  void widen(const std::vector<uint8_t>& c, const std::vector<float>& scales, size_t row, size_t n, float* out) const {
    const size_t hd = size_t(hd_);
    if (f16_) {
      kt_.f16_to_f32(reinterpret_cast<const uint16_t*>(c.data()) + row * hd, out, n * hd);
      return;
    }
    const int8_t* q = reinterpret_cast<const int8_t*>(c.data()) + row * hd;
    for (size_t j = 0; j < n; ++j) {
      const float sc = scales[row + j];
      for (size_t i = 0; i < hd; ++i) out[j * hd + i] = float(q[j * hd + i]) * sc;
    }
  }
  // The keys a row may see at most: the whole context, or the window and the tile's other rows.
  size_t most_keys() const {
    const size_t all = size_t(max_ctx_);
    return window_ > 0 ? std::min(all, size_t(window_) + kTile) : all;
  }
  // Query rows per head in a tile: kTile, fewer when the group's scores would pass kTileScoreBytes (a very
  // long context, or many query heads on one key/value head).
  size_t tile_rows() const {
    const size_t group = size_t(heads_ / kv_heads_);
    return std::max<size_t>(1, std::min({kTile, size_t(t_), kTileScoreBytes / (group * most_keys() * 4)}));
  }
  size_t gemm_ws_bytes() const {
    const size_t gm = size_t(heads_ / kv_heads_) * tile_rows(), n = most_keys(), hd = size_t(hd_);
    return align64(std::max(gemm::workspace_size(gm, n, hd, 1), gemm::workspace_size(gm, hd, n, 1)));
  }
  size_t tile_per_thread() const {
    const size_t gm = size_t(heads_ / kv_heads_) * tile_rows(), n = most_keys(), hd = size_t(hd_);
    return align64(gm * hd * 4) + align64(gm * n * 4) + align64(gm * 4) + gemm_ws_bytes() +
           (esize() == 4 ? 0 : 2 * align64(n * hd * 4));  // f16 / i8: the widened keys and values
  }
  size_t esize() const { return f16_ ? 2 : i8_ ? 1 : 4; }

  // n floats into cache element `at` (f16: rounded to nearest even; i8: with its scale at scales[row])
  void store(std::vector<uint8_t>& c, std::vector<float>& scales, size_t row, size_t at, const float* x, size_t n) const {
    if (f16_) {
      uint16_t* h = reinterpret_cast<uint16_t*>(c.data()) + at;
      for (size_t i = 0; i < n; ++i) h[i] = kernels::ref::f32_to_f16_one(x[i]);
    } else if (i8_) {
      int8_t* q = reinterpret_cast<int8_t*>(c.data()) + at;
      float amax = 0.f;
      bool finite = true;
      for (size_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i])), finite = finite && std::isfinite(x[i]);
      if (!finite) {  // a NaN or inf key or value: a NaN scale, so the scores or sums it enters are NaN, as in f32
        std::memset(q, 0, n);
        scales[row] = std::numeric_limits<float>::quiet_NaN();
        return;
      }
      const float inv = amax > 0.f ? 127.f / amax : 0.f;
      for (size_t i = 0; i < n; ++i) q[i] = int8_t(std::lrint(std::min(std::max(x[i] * inv, -127.f), 127.f)));
      scales[row] = amax / 127.f;
    } else {
      std::memcpy(c.data() + at * 4, x, n * 4);
    }
  }

  // Rotates the first rot_ dims of one head's vector to the position of the run's token t (pairs i, i + rot/2).
  void rotate(float* x, size_t t) const {
    const size_t half = size_t(rot_ / 2);
    for (size_t i = 0; i < half; ++i) {
      const float c = angles_[(t * half + i) * 2], s = angles_[(t * half + i) * 2 + 1];
      const float x1 = x[i], x2 = x[i + half];
      x[i] = x1 * c - x2 * s;
      x[i + half] = x2 * c + x1 * s;
    }
  }

  // Room for `need` tokens per (batch, head), keeping what is cached. The growth comes out of `room`, what the
  // session's memory cap (max_arena_bytes) leaves after its arena and every op's state.
  void reserve(int64_t need, uint64_t& room) {
    if (len_ == 0 && (b_ != alloc_b_ || hd_ != alloc_hd_)) {  // a new layout: the old cache goes first
      room += state_bytes();
      kc_ = {}, vc_ = {}, ks_ = {}, vs_ = {}, cap_ = 0, alloc_b_ = b_, alloc_hd_ = hd_;
    }
    if (need <= cap_) return;
    const size_t blocks = size_t(b_ * kv_heads_), hd = size_t(hd_);
    // k and v; bounded in infer()
    const auto bytes = [&](int64_t c) { return uint64_t(blocks) * uint64_t(c) * (hd * esize() + (i8_ ? 4 : 0)) * 2; };
    const uint64_t held = state_bytes(), most = held + room;
    // twice what is asked (at least 64 tokens): a prefill's cache then takes as many decode steps again before
    // it grows, so the first step after a prompt does not copy the cache
    int64_t cap = std::min(max_ctx_, std::max({2 * need, 2 * cap_, int64_t(64)}));
    if (bytes(cap) > most) cap = std::max(need, int64_t(most / bytes(1)));  // near the cap: what fits
    if (bytes(cap) > most)
      pyrt::fail(Status::kLimit, where + ": the key/value cache for " + std::to_string(need) + " tokens needs " +
                                     std::to_string(bytes(cap) - held) + " more bytes; the memory limit (" +
                                     "max_arena_bytes, or PYRT_MAX_ARENA_BYTES) leaves " + std::to_string(room));
    room -= bytes(cap) - held;
    const size_t es = esize(), block = size_t(cap) * hd * es, old = size_t(cap_) * hd * es;
    std::vector<uint8_t> kc(blocks * block), vc(kc.size());
    std::vector<float> ks(i8_ ? blocks * size_t(cap) : 0), vs(ks.size());
    for (size_t bh = 0; bh < blocks && len_ > 0; ++bh) {
      std::memcpy(&kc[bh * block], &kc_[bh * old], size_t(len_) * hd * es);
      std::memcpy(&vc[bh * block], &vc_[bh * old], size_t(len_) * hd * es);
      if (i8_) {
        std::memcpy(&ks[bh * size_t(cap)], &ks_[bh * size_t(cap_)], size_t(len_) * 4);
        std::memcpy(&vs[bh * size_t(cap)], &vs_[bh * size_t(cap_)], size_t(len_) * 4);
      }
    }
    kc_.swap(kc), vc_.swap(vc), ks_.swap(ks), vs_.swap(vs);
    cap_ = cap;
  }

  const kernels::Table& kt_;
  int64_t heads_ = 1, kv_heads_ = 1, window_ = 0, max_ctx_ = 1, rot_ = 0;
  float scale_ = 0.f, base_ = 10000.f, softcap_ = 0.f;
  std::vector<float> given_freq_;  // rotary_inv_freq, when the file gives the frequencies
  bool packed_ = false;
  int64_t b_ = 0, t_ = 0, d_ = 0, hd_ = 1;
  std::vector<float> inv_freq_;
  bool f16_ = false, i8_ = false;
  std::vector<float> rotated_;   // one key, rotated before it is stored
  std::vector<float> angles_;    // per new token and rotary pair: cos, sin
  std::vector<uint8_t> kc_, vc_;  // [B, KV, cap_, head_dim] of f32, f16 or i8
  std::vector<float> ks_, vs_;     // i8: [B, KV, cap_] scales, one per cached key / value vector
  int64_t cap_ = 0, len_ = 0, pending_ = 0;
  int64_t alloc_b_ = 0, alloc_hd_ = 0;  // the batch and head size the cache was laid out for
};

}  // namespace

std::unique_ptr<Op> make_attention(const NodeContext& ctx) { return std::make_unique<CausalAttention>(ctx); }

}  // namespace pyrt::ops
