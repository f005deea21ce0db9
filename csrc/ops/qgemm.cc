// QGemm (ONNX Runtime's com.microsoft op): Y = A . B^T + C with u8 A (per tensor), s8 B (per output column
// scales), int32 C at scale a_scale * b_scale; Y is u8 when y_scale is given, else f32 (a classifier's logits
// stay float: no rounding of the scores). B is a constant [N, K] (transB = 1) or [K, N]; transA must be 0,
// alpha 1. Runs on the u8 x s8 GEMM, or its sparse counterpart when B is stored csr (a pruned layer).
// Inputs: A, a_scale, a_zero_point, B, b_scale, b_zero_point, C (optional), y_scale (optional), y_zero_point.
#include "compute/qgemm.h"
#include "ops/quant_common.h"
#include "ops/sparse_support.h"
#include "ops/sparse_weight.h"

namespace pyrt::ops {
namespace {

class QGemm final : public Op {
 public:
  explicit QGemm(const NodeContext& ctx) : k_(ctx.kernels()) {
    ctx.expect_inputs(6, 9);
    if (ctx.attr_int("transA", 0) != 0) ctx.fail("transA must be 0");
    if (ctx.attr_float("alpha", 1.f) != 1.f) ctx.fail("alpha must be 1");
    const ConstTensor& w = ctx.require_const(3, "B", spec::kI8);
    if (w.desc.shape.size() != 2) ctx.fail("B must be 2-D, got " + shape_str(w.desc.shape));
    const bool tb = ctx.attr_int("transB", 0) != 0;
    n_ = w.desc.shape[tb ? 0 : 1], k_dim_ = w.desc.shape[tb ? 1 : 0];
    aq_ = qparams(ctx, 1, 2, "a");
    const std::vector<float> ws = weight_scales(ctx, 4, 5, n_);
    float ys = 1.f;
    if (ctx.has_input(7)) {
      const kernels::QParams yq = qparams(ctx, 7, 8, "y");
      rq_ = requant_clamp(ctx, yq);
      ys = yq.scale;
    } else {
      if (!ctx.attr_string("activation", "").empty()) ctx.fail("a fused activation needs a quantized output (y_scale)");
      rq_.f32_out = true;
    }
    scale_.resize(size_t(n_));
    for (int64_t j = 0; j < n_; ++j) scale_[size_t(j)] = float(double(aq_.scale) * ws[size_t(j)] / ys);
    std::vector<int32_t> bq(size_t(n_), 0);
    if (ctx.has_input(6)) {
      const ConstTensor& c = ctx.require_const(6, "C", spec::kI32);
      if (c.desc.numel() != n_) ctx.fail("C must have N = " + std::to_string(n_) + " int32 values");
      const int32_t* p = static_cast<const int32_t*>(c.get());
      bq.assign(p, p + n_);
    }
    // read only to pack (not at all when the file has it pre-packed)
    auto weight = [&] { return static_cast<const int8_t*>(w.get()); };
    const size_t N = size_t(n_), K = size_t(k_dim_);
    auto nk = [&] {  // B as [N][K]
      const int8_t* wq = weight();
      std::vector<int8_t> t(wq, wq + N * K);
      if (!tb)
        for (size_t k = 0; k < K; ++k)
          for (size_t j = 0; j < N; ++j) t[j * K + k] = wq[k * N + j];
      return t;
    };
    // a pruned weight: the sparse kernel, which reads only the nonzeros
    if (sparse_kernel("QGemm", w.desc.shape, ctx) && is_csr(ctx, 3))
      w_.sparse = ctx.shared<qgemm::SparsePacked>(3, tb ? "qgemm.B.t.sparse" : "qgemm.B.sparse",
                                                  [&] { return qgemm::pack_sparse(nk().data(), N, K, k_.sqgemm); });
    else
      w_.dense = ctx.packed<qgemm::Packed>(
          3, tb ? "qgemm.B.t" : "qgemm.B", qgemm::Packed::layout_name(k_.qgemm),
          [&] { return tb ? qgemm::pack(weight(), N, K, k_.qgemm) : qgemm::pack(weight(), N, K, k_.qgemm, 1, N); },
          [&](const uint8_t* p, uint64_t n) { return qgemm::view(p, n, N, K, k_.qgemm); });
    bias_ = w_.fold_bias(bq.data(), aq_.zp);
  }

  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    require_u8(*this, in[0], "A");
    const Shape& a = in[0].shape;
    if (a.size() != 2 || a[1] != k_dim_)
      fail("A must be [M, " + std::to_string(k_dim_) + "], got " + shape_str(a));
    m_ = a[0];
    out[0] = {Shape{m_, n_}, rq_.f32_out ? spec::kF32 : spec::kU8};
  }

  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    w_.run(static_cast<const uint8_t*>(in[0]), size_t(k_dim_), size_t(m_), bias_.data(), scale_.data(), rq_, out[0],
           size_t(n_), ctx.pool);
  }
  std::string kernel() const override { return std::string(w_.kind()) + k_.name; }
  bool reads_input(size_t i) const override { return i != 3 && i != 6; }  // packed / copied when created

 private:
  const kernels::Table& k_;
  int64_t n_, k_dim_, m_ = 0;
  kernels::QParams aq_{};
  kernels::QRequant rq_{};
  std::vector<float> scale_;
  std::vector<int32_t> bias_;
  qgemm::Weight w_;
};

}  // namespace

std::unique_ptr<Op> make_qgemm(const NodeContext& ctx) { return std::make_unique<QGemm>(ctx); }

}  // namespace pyrt::ops
