// Gemm (ONNX): Y = alpha * A' B' + beta * C, with A' = transA ? A^T : A, B' likewise. The usual exported
// Linear layer is Gemm(x, W, b, transB=1): a constant B is packed once (alpha folded in) and a bias C of N
// values (or a scalar) is fused into the GEMM epilogue with any fused activation.
// A Linear weight stored int8, int4 or lut runs as StoredLinear chooses (ops/linear_stored.h); one stored csr (f32
// or i8 values) runs the sparse matrix-vector kernel row by row for up to kMaxSparseRows rows, and more rows on
// the sparse x dense kernel of 1x1 convolutions (spmm) with the rows transposed: Y^T = W A^T (ops/sparse_weight.h).
// No form of a csr weight is decoded to f32.
#include <algorithm>
#include <cstdio>

#include "compute/gemm.h"
#include "ops/common.h"
#include "ops/linear_stored.h"
#include "ops/packed_weight.h"
#include "ops/sparse_support.h"
#include "ops/sparse_weight.h"

namespace pyrt::ops {
namespace {

bool fusable(Act a) { return a == Act::kNone || a == Act::kRelu || a == Act::kClip || a == Act::kLeakyRelu; }

// Rows of A up to which the sparse matrix-vector kernel (one pass over the nonzeros per row) is used; more run
// the spmm on transposed rows (measured at 128 rows of a 768 x 3072 weight, 80% zeros: 2.8 ms against the f32
// GEMM's 5.1 ms on the decoded weight, Sapphire Rapids, 1 thread).
constexpr int64_t kMaxSparseRows = 16;

// out [cols][rows] = in [rows][cols] (row strides cols and rows), for in's rows [r0, r1): 8 x 8 blocks with fixed
// bounds (the compiler keeps them in registers), then the edges.
void transpose(const float* in, size_t rows, size_t cols, float* out, size_t r0, size_t r1) {
  constexpr size_t B = 8;
  size_t i0 = r0;
  for (; i0 + B <= r1; i0 += B) {
    size_t j0 = 0;
    for (; j0 + B <= cols; j0 += B) {
      float t[B][B];
      for (size_t i = 0; i < B; ++i)
        for (size_t j = 0; j < B; ++j) t[j][i] = in[(i0 + i) * cols + j0 + j];
      for (size_t j = 0; j < B; ++j)
        for (size_t i = 0; i < B; ++i) out[(j0 + j) * rows + i0 + i] = t[j][i];
    }
    for (size_t i = i0; i < i0 + B; ++i)
      for (size_t j = j0; j < cols; ++j) out[j * rows + i] = in[i * cols + j];
  }
  for (size_t i = i0; i < r1; ++i)
    for (size_t j = 0; j < cols; ++j) out[j * rows + i] = in[i * cols + j];
}

class Gemm final : public Op {
 public:
  explicit Gemm(const NodeContext& ctx) : kt_(ctx.kernels()) {
    ctx.expect_inputs(2, 3);
    trans_a_ = ctx.attr_int("transA", 0) != 0;
    trans_b_ = ctx.attr_int("transB", 0) != 0;
    alpha_ = ctx.attr_float("alpha", 1.f);
    beta_ = ctx.attr_float("beta", 1.f);
    act_ = fused_activation(ctx);
    if (const ConstTensor* b = ctx.const_input(1);
        b && trans_b_ && !trans_a_ && alpha_ == 1.f && lin_.init(ctx, 1, *b)) {  // W [N, K] int8, int4, lut
      b_ = b;
      k_dim_ = lin_.k(), n_dim_ = lin_.n();
    } else if (b && sparse_kernel("Gemm", b->desc.shape, ctx) && is_csr(ctx, 1)) {
      sparse_ = sparse_weight(ctx, 1);  // W [N, K] csr
      if (kt_.spmv_pack)  // the table's own layout for its spmv
        // Not taken from a file's pre-packed layouts: this layout holds offsets the kernel follows, and checking
        // that a stored one keeps them inside its bytes costs as much as packing it.
        spmv_packed_ = ctx.shared<AlignedBytes>(1, "sparse.spmv", [&] {
          AlignedBytes p(kt_.spmv_pack_size(sparse_->view()));
          kt_.spmv_pack(sparse_->view(), p.data());
          return p;
        });
      b_ = b;
      k_dim_ = int64_t(sparse_->cols), n_dim_ = int64_t(sparse_->rows);
    } else if (b) {
      if (b->desc.shape.size() != 2 || b->desc.dtype != spec::kF32) ctx.fail("B must be a 2-D f32 matrix");
      const size_t K = size_t(trans_b_ ? b->desc.shape[1] : b->desc.shape[0]);
      const size_t N = size_t(trans_b_ ? b->desc.shape[0] : b->desc.shape[1]);
      char key[64];
      std::snprintf(key, sizeof key, "gemm.B.t%d.alpha%a", int(trans_b_), double(alpha_));
      packed_b_ = panels_b(ctx, 1, key, K, N, [&] {
            const float* src = b->f32();
            std::vector<float> scaled;
            if (alpha_ != 1.f) {
              scaled.assign(src, src + K * N);
              for (float& v : scaled) v *= alpha_;
              src = scaled.data();
            }
            return gemm::pack_b(kt_, src, size_t(b->desc.shape[1]), trans_b_, K, N);
          });
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
  }

  // Many rows of an int4 weight: the int8 GEMM on it requantized once (StoredLinear).
  uint64_t prepare_bytes() const override { return lin_.prepare_bytes(m_); }
  void prepare() override { lin_.prepare(m_); }

  // B is read at run time only on the plain path (no packed copy); an int4 one may be read as stored.
  bool reads_input(size_t i) const override { return !(i == 1 && (b_ || (packed_b_ && !trans_a_))); }
  bool reads_stored(size_t i) const override {
    return reads_input(i) || (i == 1 && (lin_.reads_stored() || (sparse_ && sparse_->in_place && !spmv_packed_)));
  }

  size_t workspace_bytes(const std::vector<TensorDesc>&, const std::vector<TensorDesc>&, int threads) const override {
    if (sparse_path()) return 0;
    if (sparse_) return align64(size_t(m_ * k_) * 4) + align64(size_t(m_ * n_) * 4);  // A^T, then Y^T
    if (lin_.active()) return lin_.workspace_bytes(m_);
    return gemm::workspace_size(size_t(m_), size_t(n_), size_t(k_), threads,
                                packed_b() && !trans_a_ ? gemm::Prepacked::kB : gemm::Prepacked::kNone);
  }

  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const float* a = static_cast<const float*>(in[0]);
    float* y = static_cast<float*>(out[0]);
    if (sparse_path()) return run_sparse(ctx, a, y, in);
    if (sparse_) return run_spmm(ctx, a, y, in);
    if (lin_.active()) return run_quantized(ctx, a, y, in);
    const gemm::PackedB* pb = packed_b();
    const bool packed = pb && !trans_a_;
    // alpha is folded into the packed B; on the plain path it scales A.B before the bias is added.
    const bool epi = packed || alpha_ == 1.f;
    const std::vector<float>& bias = bias_.size() == 1 && n_ > 1 ? bias_full_ : bias_;
    gemm::Epilogue ep;
    if (epi && !bias.empty()) ep.bias = bias.data(), ep.bias_kind = gemm::Epilogue::kPerCol;
    const bool fuse = epi && fusable(act_.act) && !c_general_;
    if (fuse) ep.act = act_;
    if (packed) {
      gemm::gemm_packed_b(kt_, a, size_t(k_), size_t(m_), *pb, y, size_t(n_), ep, ctx.pool, ctx.workspace);
    } else {
      const float* bm = static_cast<const float*>(in[1]);
      gemm::gemm(kt_, a, size_t(trans_a_ ? m_ : k_), trans_a_, bm, size_t(trans_b_ ? k_ : n_), trans_b_, size_t(m_),
                 size_t(n_), size_t(k_), y, size_t(n_), ep, ctx.pool, ctx.workspace);
      if (!epi)
        for (int64_t i = 0; i < m_; ++i)
          for (int64_t j = 0; j < n_; ++j) y[i * n_ + j] = alpha_ * y[i * n_ + j] + (bias.empty() ? 0.f : bias[size_t(j)]);
    }
    if (c_general_) add_c(y, static_cast<const float*>(in[2]));
    if (!fuse && act_.act != Act::kNone) kt_.unary(act_, y, y, size_t(m_ * n_));
  }

  std::string kernel() const override {
    if (sparse_path()) return std::string("spmv-") + kt_.name;
    if (sparse_) return std::string("spmm-rows-") + kt_.name;
    if (lin_.active()) return lin_.kernel(m_) + kt_.name;
    return std::string(packed_b() ? "gemm-packed-b-" : "gemm-") + kt_.name;
  }

 private:
  const gemm::PackedB* packed_b() const { return packed_b_.get(); }  // f32 weights, packed at creation
  bool sparse_path() const { return sparse_ && m_ <= kMaxSparseRows; }

  void run_sparse(const RunContext& ctx, const float* a, float* y, const std::vector<const void*>& in) {
    const std::vector<float>& bias = bias_.size() == 1 && n_ > 1 ? bias_full_ : bias_;
    kernels::SparseRows w = sparse_->view();
    size_t g = 1;  // rows per task unit: the packed layout's groups
    if (spmv_packed_) w.packed = spmv_packed_->data(), g = kt_.spmv_group;
    const size_t units = (size_t(n_) + g - 1) / g;
    for (int64_t m = 0; m < m_; ++m)
      parallel(ctx, units, (64 + g - 1) / g, [&](size_t b, size_t e, int) {
        kt_.spmv(w, a + m * k_, bias.empty() ? nullptr : bias.data(), y + m * n_, b * g, std::min(size_t(n_), e * g));
      });
    if (c_general_) add_c(y, static_cast<const float*>(in[2]));
    if (act_.act != Act::kNone) kt_.unary(act_, y, y, size_t(m_ * n_));
  }

  // Many rows on a csr weight: A^T [K][M] as the spmm's pixels, Y^T = W A^T, transposed back. Threads split the
  // rows (the spmm's pixels) in blocks of 16 or more; the spmm fuses the bias and None / Relu / Clip.
  void run_spmm(const RunContext& ctx, const float* a, float* y, const std::vector<const void*>& in) {
    const size_t M = size_t(m_), K = size_t(k_), N = size_t(n_);
    const std::vector<float>& bias = bias_.size() == 1 && n_ > 1 ? bias_full_ : bias_;
    float* at = static_cast<float*>(ctx.workspace);
    float* yt = at + align64(M * K * 4) / 4;
    parallel(ctx, M, 16, [&](size_t b, size_t e, int) { transpose(a, M, K, at, b, e); });
    const bool fuse = !c_general_ && (act_.act == Act::kNone || act_.act == Act::kRelu || act_.act == Act::kClip);
    const kernels::SparseRows w = sparse_->view();
    const size_t step = std::max<size_t>(16, std::min<size_t>(128, (M / size_t(std::max(ctx.threads, 1)) + 15) / 16 * 16));
    parallel(ctx, (M + step - 1) / step, 1, [&](size_t b, size_t e, int) {
      kt_.spmm(w, M, bias.empty() ? nullptr : bias.data(), fuse ? act_ : ActParams{}, at, yt, M, b * step,
               std::min(M, e * step));
    });
    parallel(ctx, N, 16, [&](size_t b, size_t e, int) { transpose(yt, N, M, y, b, e); });
    if (c_general_) add_c(y, static_cast<const float*>(in[2]));
    if (!fuse && act_.act != Act::kNone) kt_.unary(act_, y, y, size_t(m_ * n_));
  }

  // A weight used as stored (StoredLinear).
  void run_quantized(const RunContext& ctx, const float* a, float* y, const std::vector<const void*>& in) {
    const std::vector<float>& bias = bias_.size() == 1 && n_ > 1 ? bias_full_ : bias_;
    const float* bp = bias.empty() ? nullptr : bias.data();
    // the activation goes with the finished rows unless C is added after them
    const ActParams act = c_general_ ? ActParams{} : act_;
    const bool fused = lin_.run(ctx, kt_, a, m_, bp, y, act);
    if (c_general_) add_c(y, static_cast<const float*>(in[2]));
    if ((!fused || c_general_) && act_.act != Act::kNone) kt_.unary(act_, y, y, size_t(m_ * n_));
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
  const ConstTensor* b_ = nullptr;                 // a weight used as stored (lin_ or sparse_)
  StoredLinear lin_;
  std::shared_ptr<const SparseWeight> sparse_;
  std::shared_ptr<const AlignedBytes> spmv_packed_;  // the table's spmv layout, when it has one
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
