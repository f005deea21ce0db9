// MatMul with numpy semantics: 1-D operands promoted, batch dims broadcast. A constant 2-D right operand
// (the usual Linear/projection weight) is packed once and all batch rows run as one GEMM.
#include <algorithm>

#include "kernels/gemm.h"
#include "ops/common.h"

namespace pyrt::ops {
namespace {

class MatMul final : public Op {
 public:
  explicit MatMul(const NodeContext& ctx) : kt_(ctx.kernels()) {
    ctx.expect_inputs(2, 2);
    if (const ConstTensor* b = ctx.const_input(1))
      if (b->desc.shape.size() == 2 && b->desc.dtype == spec::kF32)
        packed_ = ctx.shared<gemm::PackedB>(1, "matmul.B", [&] {
          return gemm::pack_b(b->f32(), size_t(b->desc.shape[1]), false, size_t(b->desc.shape[0]), size_t(b->desc.shape[1]));
        });
  }

  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    require_f32(*this, in[0], "A");
    require_f32(*this, in[1], "B");
    Shape a = in[0].shape, b = in[1].shape;
    if (a.empty() || b.empty()) fail("operands must have rank >= 1");
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
    fold_ = packed_ && bb.empty();
    Shape o = batch_;
    if (!a1) o.push_back(m_);
    if (!b1) o.push_back(n_);
    out[0] = {o, spec::kF32};
  }

  size_t workspace_bytes(const std::vector<TensorDesc>&, const std::vector<TensorDesc>&, int threads) const override {
    if (fold_) return gemm::workspace_size(size_t(nbatch_ * m_), size_t(n_), size_t(k_), threads, gemm::Prepacked::kB);
    return gemm::workspace_size(size_t(m_), size_t(n_), size_t(k_), threads);
  }

  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const float* a = static_cast<const float*>(in[0]);
    const float* b = static_cast<const float*>(in[1]);
    float* y = static_cast<float*>(out[0]);
    const gemm::Epilogue ep;
    if (fold_) {
      gemm::gemm_packed_b(a, size_t(k_), size_t(nbatch_ * m_), *packed_, y, size_t(n_), ep, ctx.pool, ctx.workspace);
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
      gemm::gemm(a + oa * m_ * k_, size_t(k_), false, b + ob * k_ * n_, size_t(n_), false, size_t(m_), size_t(n_),
                 size_t(k_), y + t * m_ * n_, size_t(n_), ep, ctx.pool, ctx.workspace);
    }
  }

  std::string kernel() const override { return std::string(fold_ ? "gemm-packed-b-" : "gemm-") + kt_.name; }

 private:
  const kernels::Table& kt_;
  std::shared_ptr<const gemm::PackedB> packed_;
  int64_t m_ = 0, n_ = 0, k_ = 0, nbatch_ = 1;
  Shape batch_;
  std::vector<int64_t> sa_, sb_;
  bool fold_ = false;
};

}  // namespace

std::unique_ptr<Op> make_matmul(const NodeContext& ctx) { return std::make_unique<MatMul>(ctx); }

}  // namespace pyrt::ops
