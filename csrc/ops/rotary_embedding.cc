// RotaryEmbedding (ONNX 23): rotates the first rotary_embedding_dim features of each head by the angles of its
// position. X is [batch, heads, seq, head] or [batch, seq, hidden] (num_heads given); cos / sin caches are
// [max_pos, rotary/2] read at position_ids [batch, seq], or [batch, seq, rotary/2] without position_ids.
// interleaved pairs features (0, 1), (2, 3)...; otherwise the halves (i, i + rotary/2). f32. A position outside
// the cache is an error naming the node.
#include <cstring>

#include "ops/common.h"

namespace pyrt::ops {
namespace {

class RotaryEmbedding final : public Op {
 public:
  explicit RotaryEmbedding(const NodeContext& ctx) {
    ctx.expect_inputs(3, 4);
    has_pos_ = ctx.has_input(3);
    heads_attr_ = ctx.attr_int("num_heads", 0);
    rot_attr_ = ctx.attr_int("rotary_embedding_dim", 0);
    interleaved_ = ctx.attr_int("interleaved", 0) != 0;
    if (heads_attr_ < 0 || rot_attr_ < 0) ctx.fail("num_heads and rotary_embedding_dim must not be negative");
  }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    for (size_t i = 0; i < 3; ++i) require_f32(*this, in[i], i == 0 ? "X" : i == 1 ? "cos_cache" : "sin_cache");
    const Shape& x = in[0].shape;
    if (x.size() == 4) {
      batch_ = x[0], heads_ = x[1], seq_ = x[2], head_ = x[3], four_d_ = true;
    } else if (x.size() == 3) {
      if (heads_attr_ == 0) fail("a 3-D X needs num_heads");
      if (x[2] % heads_attr_) fail("hidden size " + std::to_string(x[2]) + " is not a multiple of num_heads");
      batch_ = x[0], seq_ = x[1], heads_ = heads_attr_, head_ = x[2] / heads_attr_, four_d_ = false;
    } else {
      fail("X must be 3-D or 4-D, got " + shape_str(x));
    }
    rot_ = rot_attr_ ? rot_attr_ : head_;
    if (rot_ > head_ || rot_ % 2) fail("rotary_embedding_dim must be even and at most the head size");
    const int64_t half = rot_ / 2;
    if (in[1].shape != in[2].shape) fail("cos_cache and sin_cache must have one shape");
    const Shape& c = in[1].shape;
    if (has_pos_) {
      if (in[3].dtype != spec::kI64) fail("position_ids must be i64");
      if (in[3].shape != Shape{batch_, seq_}) fail("position_ids must be [batch, seq], got " + shape_str(in[3].shape));
      if (c.size() != 2 || c[1] != half) fail("caches must be [max_position, rotary_dim / 2], got " + shape_str(c));
      max_pos_ = c[0];
    } else if (c != Shape{batch_, seq_, half}) {
      fail("without position_ids the caches must be [batch, seq, rotary_dim / 2], got " + shape_str(c));
    }
    out[0] = in[0];
  }
  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const float* x = static_cast<const float*>(in[0]);
    const float* cs = static_cast<const float*>(in[1]);
    const float* sn = static_cast<const float*>(in[2]);
    const int64_t* pos = has_pos_ ? static_cast<const int64_t*>(in[3]) : nullptr;
    float* y = static_cast<float*>(out[0]);
    const int64_t half = rot_ / 2;
    for (int64_t b = 0; b < batch_; ++b)
      for (int64_t s = 0; s < seq_; ++s) {
        int64_t row = b * seq_ + s;
        if (pos) {
          row = pos[b * seq_ + s];
          if (row < 0 || row >= max_pos_)
            fail("position id " + std::to_string(row) + " is outside the caches' [0, " + std::to_string(max_pos_) + ")");
        }
        const float* c = cs + row * half;
        const float* si = sn + row * half;
        for (int64_t h = 0; h < heads_; ++h) {
          const int64_t base = four_d_ ? ((b * heads_ + h) * seq_ + s) * head_ : (b * seq_ + s) * heads_ * head_ + h * head_;
          const float* xp = x + base;
          float* yp = y + base;
          for (int64_t i = 0; i < half; ++i) {
            const int64_t i1 = interleaved_ ? 2 * i : i, i2 = interleaved_ ? 2 * i + 1 : i + half;
            const float a = xp[i1], e = xp[i2];
            yp[i1] = c[i] * a - si[i] * e;
            yp[i2] = si[i] * a + c[i] * e;
          }
          if (yp != xp) std::memcpy(yp + rot_, xp + rot_, size_t(head_ - rot_) * sizeof(float));
        }
      }
  }
  std::string kernel() const override { return "rope-ref"; }

 private:
  bool has_pos_ = false, interleaved_ = false, four_d_ = true;
  int64_t heads_attr_ = 0, rot_attr_ = 0;
  int64_t batch_ = 0, heads_ = 0, seq_ = 0, head_ = 0, rot_ = 0, max_pos_ = 0;
};

}  // namespace

std::unique_ptr<Op> make_rotary_embedding(const NodeContext& ctx) { return std::make_unique<RotaryEmbedding>(ctx); }

}  // namespace pyrt::ops
