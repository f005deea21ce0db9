// fp32 GEMM driver: C[M,N] = A[M,K] . B[K,N] + epilogue, over the microkernel of the kernel table it is given.
//
//   Linear / Gemm     Y[batch, out] = X . W^T  -> pack_b(W, K, /*trans=*/true, K, N) at load, gemm_packed_b
//   1x1 / im2col conv Y[Cout, HW]   = W . X    -> pack_a(W, K, false, Cout, K) at load,   gemm_packed_a
//   MatMul of two activations                   -> gemm (both sides packed per call into the workspace)
//
// Blocking is BLIS-style (NC columns of B packed per KC-deep slice, MC rows of A per slice, MRxNR tiles).
// Threads split the output into disjoint panel ranges; every element is one FMA chain over k in order, so
// the result is bit-identical for any thread count, blocking and kernel (AVX-512 == AVX2 == reference).
// Prepacked panels record the tile they were packed for; a call uses its table's kernel when its tile fits
// and otherwise another kernel with that tile (kernels::gemm_kernel_for), so they stay valid under any table.
// No call allocates: the operand packed per call goes into the caller's `workspace` (workspace_size()).
#pragma once
#include <cstddef>
#include <memory>
#include <string>

#include "kernels/activation.h"
#include "kernels/dispatch.h"

namespace pyrt {
class ThreadPool;
}

namespace pyrt::gemm {

// Applied in the microkernel after the last k step: C = act(A.B + bias). Only Act::kNone, kRelu, kClip
// (min(max(x, p0), p1)) and kLeakyRelu are fused; other activations throw std::invalid_argument here and
// must be applied by the caller on C afterwards (they are transcendental and belong to their own kernels).
struct Epilogue {
  enum Bias { kNone, kPerRow, kPerCol };
  const float* bias = nullptr;  // kPerRow: M values (conv: per output channel); kPerCol: N values (Linear)
  Bias bias_kind = kNone;
  ActParams act;
};

// Which operand a call receives already packed (workspace_size() only needs room for the other one).
enum class Prepacked { kNone, kA, kB };

namespace detail {
// Panels of one operand: for each KC-deep slice of k, ceil(outer/tile) panels of kc x tile floats
// (element (o, k) of the panel at o % tile), zero padded. 64-byte aligned storage, owned, or a view of the same
// bytes pre-packed in a model file (view_a / view_b).
struct Panels {
  struct Free {
    void operator()(float* p) const;
  };
  std::unique_ptr<float, Free> owned;
  const float* data = nullptr;  // owned.get() or the viewed bytes
  size_t outer = 0, depth = 0;  // M (or N) and K
  size_t tile = 0, kc = 0;      // MR (or NR) of the kernel it was packed for; K slice depth
};
}  // namespace detail

// Left operand (M x K) packed once (with the table's MR), e.g. conv weights. Usable under any table.
class PackedA {
 public:
  size_t rows() const { return p_.outer; }
  size_t depth() const { return p_.depth; }
  const detail::Panels& panels() const { return p_; }
  // The bytes a file stores for it (SPEC §6.6; their arrangement is named by panels_layout()).
  const void* bytes() const { return p_.data; }
  size_t size() const;

 private:
  friend PackedA pack_a(const kernels::Table&, const float*, size_t, bool, size_t, size_t);
  friend std::unique_ptr<PackedA> view_a(const kernels::Table&, const void*, size_t, size_t, size_t);
  detail::Panels p_;
};

// Right operand (K x N) packed once, e.g. Linear weights W[N,K] packed as W^T.
class PackedB {
 public:
  size_t cols() const { return p_.outer; }
  size_t depth() const { return p_.depth; }
  const detail::Panels& panels() const { return p_; }
  const void* bytes() const { return p_.data; }
  size_t size() const;

 private:
  friend PackedB pack_b(const kernels::Table&, const float*, size_t, bool, size_t, size_t);
  friend std::unique_ptr<PackedB> view_b(const kernels::Table&, const void*, size_t, size_t, size_t);
  detail::Panels p_;
};

// trans = false: a is row-major M x K (element (i,k) at a[i*lda + k]); true: a holds A^T, (i,k) at a[k*lda + i].
PackedA pack_a(const kernels::Table& kt, const float* a, size_t lda, bool trans, size_t M, size_t K);
// trans = false: b is row-major K x N ((k,j) at b[k*ldb + j]); true: b holds B^T, e.g. W[N,K]: b[j*ldb + k].
PackedB pack_b(const kernels::Table& kt, const float* b, size_t ldb, bool trans, size_t K, size_t N);

// Bytes pack_b(kt, ..., K, N) holds.
size_t packed_b_bytes(const kernels::Table& kt, size_t K, size_t N);
// What pack_a / pack_b would make for kt, as a view of `size` bytes a file stores (not copied: they outlive the
// result), or null when their size or alignment is not that of such panels.
std::unique_ptr<PackedA> view_a(const kernels::Table& kt, const void* bytes, size_t size, size_t M, size_t K);
std::unique_ptr<PackedB> view_b(const kernels::Table& kt, const void* bytes, size_t size, size_t K, size_t N);
// The layout text pack_a / pack_b give kt's panels (part of a pre-packed layout's key).
std::string panels_layout(size_t tile);

// C[M,N] (row stride ldc) = A.B + epilogue; the plain operand is row-major with the given leading dimension.
// pool may be null (one thread). workspace: at least workspace_size(..., pool threads, ...) bytes, any
// alignment; may be null only if that size is 0.
void gemm_packed_a(const kernels::Table& kt, const PackedA& A, const float* B, size_t ldb, size_t N, float* C, size_t ldc, const Epilogue& ep,
                   ThreadPool* pool, void* workspace);
void gemm_packed_b(const kernels::Table& kt, const float* A, size_t lda, size_t M, const PackedB& B, float* C, size_t ldc, const Epilogue& ep,
                   ThreadPool* pool, void* workspace);
// transA: a holds A^T (K x M, row stride lda); transB: b holds B^T (N x K, row stride ldb).
void gemm(const kernels::Table& kt, const float* A, size_t lda, bool transA, const float* B, size_t ldb, bool transB, size_t M, size_t N,
          size_t K, float* C, size_t ldc, const Epilogue& ep, ThreadPool* pool, void* workspace);

// Bytes of scratch a call above needs with `threads` threads (the pool's size()). Prepacked::kNone covers
// every call kind; kA / kB give the smaller figure for gemm_packed_a / gemm_packed_b.
size_t workspace_size(size_t M, size_t N, size_t K, int threads, Prepacked prepacked = Prepacked::kNone);

// Cache blocking (floats) for a table's tile, exposed for the benchmark's report.
struct Blocking {
  size_t mc, kc, nc;
};
Blocking blocking(const kernels::Table& kt);

}  // namespace pyrt::gemm
