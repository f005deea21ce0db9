// MatMul with numpy semantics: 1-D operands promoted, batch dims broadcast. A constant 2-D right operand
// (the usual Linear/projection weight) is packed once and all batch rows run as one GEMM.
// Attribute `transB` (pyruntime's, set by the exporter for constant weights): B is stored [N, K], as Gemm's
// transB and Linear weights are; one stored int8, int4 or lut runs as StoredLinear chooses (ops/linear_stored.h).
#include <algorithm>

#include "base/scalar_codecs.h"
#include "compute/gemm.h"
#include "kernels/ref/ref.h"
#include "ops/common.h"
#include "ops/linear_stored.h"
#include "ops/packed_weight.h"

namespace pyrt::ops {
namespace {

class MatMul final : public Op {
 public:
  explicit MatMul(const NodeContext& ctx) : kt_(ctx.kernels()) {
    ctx.expect_inputs(2, 2);
    trans_b_ = ctx.attr_int("transB", 0) != 0;
    const ConstTensor* b = ctx.const_input(1);
    if (trans_b_ && (!b || b->desc.shape.size() != 2)) ctx.fail("transB needs a constant 2-D B");
    if (b && trans_b_ && lin_.init(ctx, 1, *b)) {  // int8, int4, lut
      b_ = b;
    } else if (b && b->desc.shape.size() == 2 && b->desc.dtype == spec::kF32) {
      const size_t r = size_t(b->desc.shape[0]), c = size_t(b->desc.shape[1]);  // [K, N], or [N, K] with transB
      packed_ = panels_b(ctx, 1, trans_b_ ? "matmul.B.t" : "matmul.B", trans_b_ ? c : r, trans_b_ ? r : c, [&] {
        return gemm::pack_b(kt_, b->f32(), c, trans_b_, trans_b_ ? c : r, trans_b_ ? r : c);
      });
    }
  }

  // A constant B runs from its packed copy (f32) or as StoredLinear keeps it.
  bool reads_input(size_t i) const override { return !(i == 1 && (b_ || packed_)); }
  bool reads_stored(size_t i) const override { return reads_input(i) || (i == 1 && lin_.reads_stored()); }

  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    // f16 operands (both, B computed at run time): widened to f32 in the workspace, the product rounded back
    half_ = in[0].dtype == spec::kF16 && in[1].dtype == spec::kF16 && !packed_ && !b_;
    if (!half_) {
      require_f32(*this, in[0], "A");
      require_f32(*this, in[1], "B");
    }
    Shape a = in[0].shape, b = in[1].shape;
    if (a.empty() || b.empty()) fail("operands must have rank >= 1");
    if (trans_b_) std::swap(b[0], b[1]);  // stored [N, K]
    const bool a1 = a.size() == 1, b1 = b.size() == 1;
    if (a1) a.insert(a.begin(), 1);
    if (b1) b.push_back(1);
    m_ = a[a.size() - 2], k_ = a.back(), n_ = b.back();
    if (b[b.size() - 2] != k_)
      fail("inner dimensions differ: " + shape_str(in[0].shape) + " x " + shape_str(in[1].shape));
    Shape ba(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2);
    batch_ = broadcast(*this, ba, bb);
    sa_ = broadcast_strides(ba, batch_), sb_ = broadcast_strides(bb, batch_);
    nbatch_ = numel(batch_);
    // a constant 2-D B with A's batch folded into rows: one GEMM of (batch*M) x K
    fold_ = (packed_ || b_) && bb.empty();
    Shape o = batch_;
    if (!a1) o.push_back(m_);
    if (!b1) o.push_back(n_);
    out[0] = {o, half_ ? spec::kF16 : spec::kF32};
    na_ = size_t(in[0].numel()), nb_ = size_t(in[1].numel()), ny_ = size_t(numel(o));
  }

  // Many rows of an int4 weight: the int8 GEMM on the weight requantized once (StoredLinear).
  uint64_t prepare_bytes() const override { return lin_path() ? lin_.prepare_bytes(nbatch_ * m_) : 0; }
  void prepare() override {
    if (lin_path()) lin_.prepare(nbatch_ * m_);
  }

  size_t workspace_bytes(const std::vector<TensorDesc>&, const std::vector<TensorDesc>&, int threads) const override {
    if (half_) return half_bytes() + gemm::workspace_size(size_t(m_), size_t(n_), size_t(k_), threads);
    if (lin_path()) return lin_.workspace_bytes(nbatch_ * m_);
    if (fold_) return gemm::workspace_size(size_t(nbatch_ * m_), size_t(n_), size_t(k_), threads, gemm::Prepacked::kB);
    return gemm::workspace_size(size_t(m_), size_t(n_), size_t(k_), threads);
  }

  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    if (half_) {
      float* wa = static_cast<float*>(ctx.workspace);
      float* wb = wa + align64(na_ * 4) / 4;
      float* wy = wb + align64(nb_ * 4) / 4;
      scalar::f16_to_f32(static_cast<const uint16_t*>(in[0]), wa, na_);
      scalar::f16_to_f32(static_cast<const uint16_t*>(in[1]), wb, nb_);
      RunContext inner = ctx;
      inner.workspace = static_cast<uint8_t*>(ctx.workspace) + half_bytes();
      run_f32(inner, wa, wb, wy);
      uint16_t* y = static_cast<uint16_t*>(out[0]);
      for (size_t i = 0; i < ny_; ++i) y[i] = kernels::ref::f32_to_f16_one(wy[i]);
      return;
    }
    run_f32(ctx, static_cast<const float*>(in[0]), static_cast<const float*>(in[1]), static_cast<float*>(out[0]));
  }

  void run_f32(const RunContext& ctx, const float* a, const float* b, float* y) {
    const gemm::Epilogue ep;
    if (lin_path()) {
      lin_.run(ctx, kt_, a, nbatch_ * m_, nullptr, y);
      return;
    }
    if (fold_) {
      gemm::gemm_packed_b(kt_, a, size_t(k_), size_t(nbatch_ * m_), *packed_, y, size_t(n_), ep, ctx.pool, ctx.workspace);
      return;
    }
    for (int64_t t = 0; t < nbatch_; ++t) {
      int64_t rem = t, oa = 0, ob = 0;
      for (size_t d = batch_.size(); d-- > 0;) {
        const int64_t i = rem % batch_[d];
        rem /= batch_[d];
        oa += i * sa_[d];
        ob += i * sb_[d];
      }
      gemm::gemm(kt_, a + oa * m_ * k_, size_t(k_), false, b + ob * k_ * n_, size_t(n_), false, size_t(m_), size_t(n_),
                 size_t(k_), y + t * m_ * n_, size_t(n_), ep, ctx.pool, ctx.workspace);
    }
  }

  std::string kernel() const override {
    if (half_) return std::string("gemm-f16-via-f32-") + kt_.name;
    if (lin_path()) return lin_.kernel(nbatch_ * m_) + kt_.name;
    return std::string(fold_ ? "gemm-packed-b-" : "gemm-") + kt_.name;
  }

 private:
  size_t half_bytes() const { return align64(na_ * 4) + align64(nb_ * 4) + align64(ny_ * 4); }
  bool lin_path() const { return lin_.active() && fold_; }

  const kernels::Table& kt_;
  std::shared_ptr<const gemm::PackedB> packed_;  // an f32 weight, packed at creation
  bool trans_b_ = false;
  const ConstTensor* b_ = nullptr;  // a weight used as stored (lin_)
  StoredLinear lin_;
  int64_t m_ = 0, n_ = 0, k_ = 0, nbatch_ = 1;
  Shape batch_;
  std::vector<int64_t> sa_, sb_;
  bool fold_ = false, half_ = false;
  size_t na_ = 0, nb_ = 0, ny_ = 0;
};

}  // namespace

std::unique_ptr<Op> make_matmul(const NodeContext& ctx) { return std::make_unique<MatMul>(ctx); }

}  // namespace pyrt::ops
