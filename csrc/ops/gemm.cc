// Gemm (ONNX): Y = alpha * A' B' + beta * C, with A' = transA ? A^T : A, B' likewise. The usual exported
// Linear layer is Gemm(x, W, b, transB=1): a constant B is packed once (alpha folded in) and a bias C of N
// values (or a scalar) is fused into the GEMM epilogue with any fused activation.
// A Linear weight stored int4 (signed, groups along K) is used as stored: up to kI4MaxRows rows of A run the
// int4 x int8 GEMV on it (A quantized per group on the fly: ONNX Runtime's MatMulNBits accuracy level 4),
// so the f32 weight is never materialized; more rows decode it once and take the f32 GEMM.
#include <algorithm>
#include <cstdio>

#include "kernels/gemm.h"
#include "ops/common.h"

namespace pyrt::ops {
namespace {

bool fusable(Act a) { return a == Act::kNone || a == Act::kRelu || a == Act::kClip || a == Act::kLeakyRelu; }

// Rows of A up to which the int4 GEMV (one pass over the weights per row) beats decoding to f32 once.
constexpr int64_t kI4MaxRows = 8;

class Gemm final : public Op {
 public:
  explicit Gemm(const NodeContext& ctx) : kt_(ctx.kernels()) {
    ctx.expect_inputs(2, 3);
    trans_a_ = ctx.attr_int("transA", 0) != 0;
    trans_b_ = ctx.attr_int("transB", 0) != 0;
    alpha_ = ctx.attr_float("alpha", 1.f);
    beta_ = ctx.attr_float("beta", 1.f);
    act_ = fused_activation(ctx);
    if (const ConstTensor* b = ctx.const_input(1); b && use_i4(ctx, *b)) {
      b_ = b;
      k_dim_ = int64_t(i4_.k), n_dim_ = int64_t(i4_.n);
    } else if (b) {
      if (b->desc.shape.size() != 2 || b->desc.dtype != spec::kF32) ctx.fail("B must be a 2-D f32 matrix");
      const size_t K = size_t(trans_b_ ? b->desc.shape[1] : b->desc.shape[0]);
      const size_t N = size_t(trans_b_ ? b->desc.shape[0] : b->desc.shape[1]);
      const float* src = b->f32();
      std::vector<float> scaled;
      if (alpha_ != 1.f) {
        scaled.assign(src, src + K * N);
        for (float& v : scaled) v *= alpha_;
        src = scaled.data();
      }
      char key[64];
      std::snprintf(key, sizeof key, "gemm.B.t%d.alpha%a", int(trans_b_), double(alpha_));
      packed_b_ = ctx.shared<gemm::PackedB>(1, key, [&] { return gemm::pack_b(src, size_t(b->desc.shape[1]), trans_b_, K, N); });
      k_dim_ = int64_t(K), n_dim_ = int64_t(N);
    }
    if (ctx.has_input(2)) {
      if (const ConstTensor* c = ctx.const_input(2)) {
        if (c->desc.dtype != spec::kF32) ctx.fail("C must be f32");
        const int64_t n = c->desc.numel();
        const bool row_vec = c->desc.shape.size() <= 1 || (c->desc.shape.size() == 2 && c->desc.shape[0] == 1);
        if (row_vec && (n == 1 || n_dim_ < 0 || n == n_dim_)) {
          bias_.assign(c->f32(), c->f32() + n);
          for (float& v : bias_) v *= beta_;
        }
      }
    }
  }

  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    require_f32(*this, in[0], "A");
    if (in[0].shape.size() != 2) fail("A must be 2-D, got " + shape_str(in[0].shape));
    if (in[1].shape.size() != 2) fail("B must be 2-D, got " + shape_str(in[1].shape));
    m_ = trans_a_ ? in[0].shape[1] : in[0].shape[0];
    const int64_t ka = trans_a_ ? in[0].shape[0] : in[0].shape[1];
    const int64_t kb = trans_b_ ? in[1].shape[1] : in[1].shape[0];
    n_ = trans_b_ ? in[1].shape[0] : in[1].shape[1];
    if (ka != kb) fail("A' is " + std::to_string(m_) + "x" + std::to_string(ka) + " but B' is " +
                       std::to_string(kb) + "x" + std::to_string(n_));
    k_ = ka;
    c_general_ = in.size() > 2 && in[2].dtype != 0 && bias_.empty();
    if (c_general_) broadcast(*this, in[2].shape, {m_, n_});
    c_shape_ = c_general_ ? in[2].shape : Shape{};
    if (!bias_.empty() && bias_.size() != 1 && int64_t(bias_.size()) != n_)
      fail("C has " + std::to_string(bias_.size()) + " values for " + std::to_string(n_) + " output columns");
    if (bias_.size() == 1 && n_ > 1) bias_full_.assign(size_t(n_), bias_[0]);  // a scalar C, spread once
    if (c_general_) c_strides_ = broadcast_strides(c_shape_, {m_, n_});
    out[0] = {{m_, n_}, spec::kF32};
    if (b_ && m_ > kI4MaxRows && !packed_b_)  // many rows: decode the int4 weight once, for the f32 GEMM
      packed_b_ = std::make_shared<const gemm::PackedB>(gemm::pack_b(b_->f32(), size_t(k_), true, size_t(k_), size_t(n_)));
  }

  bool reads_input(size_t i) const override { return !(i == 1 && b_); }

  size_t workspace_bytes(const std::vector<TensorDesc>&, const std::vector<TensorDesc>&, int threads) const override {
    if (i4_path()) return align64(i4_.ng * i4_.group) + 2 * align64(i4_.ng * 4);
    return gemm::workspace_size(size_t(m_), size_t(n_), size_t(k_), threads,
                                packed_b_ && !trans_a_ ? gemm::Prepacked::kB : gemm::Prepacked::kNone);
  }

  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const float* a = static_cast<const float*>(in[0]);
    float* y = static_cast<float*>(out[0]);
    if (i4_path()) return run_i4(ctx, a, y, in);
    const bool packed = packed_b_ && !trans_a_;
    // alpha is folded into the packed B; on the plain path it scales A.B before the bias is added.
    const bool epi = packed || alpha_ == 1.f;
    const std::vector<float>& bias = bias_.size() == 1 && n_ > 1 ? bias_full_ : bias_;
    gemm::Epilogue ep;
    if (epi && !bias.empty()) ep.bias = bias.data(), ep.bias_kind = gemm::Epilogue::kPerCol;
    const bool fuse = epi && fusable(act_.act) && !c_general_;
    if (fuse) ep.act = act_;
    if (packed) {
      gemm::gemm_packed_b(a, size_t(k_), size_t(m_), *packed_b_, y, size_t(n_), ep, ctx.pool, ctx.workspace);
    } else {
      const float* bm = static_cast<const float*>(in[1]);
      gemm::gemm(a, size_t(trans_a_ ? m_ : k_), trans_a_, bm, size_t(trans_b_ ? k_ : n_), trans_b_, size_t(m_),
                 size_t(n_), size_t(k_), y, size_t(n_), ep, ctx.pool, ctx.workspace);
      if (!epi)
        for (int64_t i = 0; i < m_; ++i)
          for (int64_t j = 0; j < n_; ++j) y[i * n_ + j] = alpha_ * y[i * n_ + j] + (bias.empty() ? 0.f : bias[size_t(j)]);
    }
    if (c_general_) add_c(y, static_cast<const float*>(in[2]));
    if (!fuse && act_.act != Act::kNone) kt_.unary(act_, y, y, size_t(m_ * n_));
  }

  std::string kernel() const override {
    if (i4_path()) return std::string("gemv-i4-") + kt_.name;
    return std::string(packed_b_ ? "gemm-packed-b-" : "gemm-") + kt_.name;
  }

 private:
  bool i4_path() const { return b_ && m_ <= kI4MaxRows; }

  // A Linear weight (transB, alpha 1) stored as signed int4 with groups of at least 16 along K.
  bool use_i4(const NodeContext& ctx, const ConstTensor& b) {
    if (!b.encoded() || !trans_b_ || trans_a_ || alpha_ != 1.f || b.desc.shape.size() != 2) return false;
    const TensorInfo& t = ctx.model().tensors()[b.tensor_index];
    if (t.encoding != spec::kEncI4 || !t.p.is_signed) return false;
    ctx.model().check_tensor(b.tensor_index);  // the deferred checks a decode would have made (SPEC 6.4)
    i4_.q = ctx.model().buffer(b.tensor_index, 0);
    i4_.scales = ctx.model().buffer(b.tensor_index, 1);
    i4_.scales_f16 = t.p.scale_dtype == spec::kScaleF16;
    i4_.n = size_t(t.rows), i4_.k = size_t(t.cols), i4_.group = size_t(t.p.group_size);
    i4_.ng = (i4_.k + i4_.group - 1) / i4_.group;
    return true;
  }

  void run_i4(const RunContext& ctx, const float* a, float* y, const std::vector<const void*>& in) {
    uint8_t* ws = static_cast<uint8_t*>(ctx.workspace);
    int8_t* xq = reinterpret_cast<int8_t*>(ws);
    float* xs = reinterpret_cast<float*>(ws + align64(i4_.ng * i4_.group));
    int32_t* xsum = reinterpret_cast<int32_t*>(ws + align64(i4_.ng * i4_.group) + align64(i4_.ng * 4));
    const std::vector<float>& bias = bias_.size() == 1 && n_ > 1 ? bias_full_ : bias_;
    const kernels::I8Groups xg{xq, xs, xsum};
    for (int64_t m = 0; m < m_; ++m) {
      kernels::quantize_i8_groups(a + m * k_, size_t(k_), i4_.group, xq, xs, xsum);
      float* ym = y + m * n_;
      parallel(ctx, size_t(n_), 64, [&](size_t b, size_t e, int) {
        kt_.gemv_i4(i4_, xg, bias.empty() ? nullptr : bias.data(), ym, b, e);
      });
    }
    if (c_general_) add_c(y, static_cast<const float*>(in[2]));
    if (act_.act != Act::kNone) kt_.unary(act_, y, y, size_t(m_ * n_));
  }

  // C of another shape than a row vector: y += beta * broadcast(C)
  void add_c(float* y, const float* c) const {
    for (int64_t i = 0; i < m_; ++i)
      for (int64_t j = 0; j < n_; ++j) y[i * n_ + j] += beta_ * c[i * c_strides_[0] + j * c_strides_[1]];
  }

  const kernels::Table& kt_;
  bool trans_a_, trans_b_;
  float alpha_, beta_;
  ActParams act_;
  std::shared_ptr<const gemm::PackedB> packed_b_;  // shared by all sessions of the model (f32 weights)
  const ConstTensor* b_ = nullptr;                 // an int4 weight used as stored, and its view:
  kernels::I4Matrix i4_{};
  std::vector<float> bias_, bias_full_;
  int64_t k_dim_ = -1, n_dim_ = -1;
  int64_t m_ = 0, n_ = 0, k_ = 0;
  bool c_general_ = false;
  Shape c_shape_;
  std::vector<int64_t> c_strides_;
};

}  // namespace

std::unique_ptr<Op> make_gemm(const NodeContext& ctx) { return std::make_unique<Gemm>(ctx); }

}  // namespace pyrt::ops
