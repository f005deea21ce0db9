// u8 x s8 GEMM driver (static int8 models): C[M, N] = requant(A[M, K] . W^T + bias), A u8 row-major read in
// place (NHWC activations or im2col rows), W s8 [N, K] packed once into the table's panels (qgemm::pack).
//
// Every output element is an exact int32 sum followed by the shared float requantization, so results are
// bit-identical for any table, tile and thread split.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/dispatch.h"

namespace pyrt {
class ThreadPool;
}

namespace pyrt::qgemm {

// W [N, K] s8 in the panels of one kernel (QGemmKernel): ceil(N / nr) panels of round_up(K, kr) * nr bytes, then
// (64-byte aligned) the N column sums, then `tail` bytes its owner keeps with them (e.g. scales). One block:
// owned, or the same bytes pre-packed in a model file (view(); SPEC §6.6).
struct Packed {
  struct Free {
    void operator()(int8_t* p) const;
  };
  std::unique_ptr<int8_t, Free> owned;
  const int8_t* data = nullptr;
  const int32_t* wsum = nullptr;          // per column: sum_k W[n][k] (zero-point folding)
  size_t n = 0, k = 0, kp = 0;           // kp = K rounded up to kr
  size_t tail = 0;
  kernels::QGemmKernel uk{};
  size_t panel_bytes() const { return kp * uk.nr; }
  // The block (what a file stores), its size, its tail, and the arrangement's name (the kernel's nr x kr).
  const void* bytes() const { return data; }
  size_t size() const { return block_bytes(n, k, uk, tail); }
  const uint8_t* tail_data() const { return reinterpret_cast<const uint8_t*>(data) + size() - tail; }
  static size_t block_bytes(size_t N, size_t K, const kernels::QGemmKernel& uk, size_t tail);
  static std::string layout_name(const kernels::QGemmKernel& uk);
};
// W[n][k] is w[n * sn + k * sk] (default: [N][K] rows), read in place: no transposed copy beside the packed one.
// tail: `tail_bytes` bytes copied after the column sums (tail_data()).
Packed pack(const int8_t* w, size_t N, size_t K, const kernels::QGemmKernel& uk, size_t sn = 0, size_t sk = 1,
            const void* tail = nullptr, size_t tail_bytes = 0);
// pack()'s block for these shapes as stored elsewhere (not copied: it outlives the result), or null when its
// size or alignment is not that block's.
std::unique_ptr<Packed> view(const void* bytes, uint64_t size, size_t N, size_t K, const kernels::QGemmKernel& uk,
                             size_t tail = 0);

// The per-column bias the kernel adds: bias_q[n] (int32 at scale sa * sw[n], may be null) minus the
// activation zero point's share, for this kernel's a_offset.
std::vector<int32_t> fold_bias(const Packed& b, const int32_t* bias_q, int32_t za);

// c: u8 [M, ldc] (or f32 with rq.f32_out). bias: fold_bias(); scale: N per-column requantization scales.
// The kernel reads K bytes of each A row, or b.kp (K rounded up to the kernel's group) with `padded_a`: rows
// padded to whole groups (any values: W is zero there) skip the kernel's byte-wise tail.
void run(const uint8_t* a, size_t lda, size_t M, const Packed& b, const int32_t* bias, const float* scale,
         const kernels::QRequant& rq, void* c, size_t ldc, ThreadPool* pool, bool padded_a = false);

// W [N, K] s8 stored sparse (a pruned layer's csr weight): its nonzeros by row, and the layout of the table's
// sparse kernel (kernels::SparseQ), built once at load.
struct SparsePacked {
  size_t n = 0, k = 0;
  std::vector<uint32_t> start{0}, col;
  std::vector<int8_t> q;
  std::unique_ptr<int8_t, Packed::Free> packed;
  kernels::SqGemmKernel uk{};
  std::vector<int32_t> wsum;
  kernels::SparseQ view() const {
    return {n, k, start.data(), col.data(), q.data(), reinterpret_cast<const uint8_t*>(packed.get())};
  }
};
SparsePacked pack_sparse(const int8_t* w, size_t N, size_t K, const kernels::SqGemmKernel& uk);
std::vector<int32_t> fold_bias(const SparsePacked& b, const int32_t* bias_q, int32_t za);
// As run(), on the sparse weight: A rows of K bytes, lda apart.
void run_sparse(const uint8_t* a, size_t lda, size_t M, const SparsePacked& b, const int32_t* bias, const float* scale,
                const kernels::QRequant& rq, void* c, size_t ldc, ThreadPool* pool);

// A u8 x s8 layer's weight [N, K] as the layer runs it: dense panels, or the sparse layout when the file stores
// the weight csr. `make` gives the s8 weight as [N][K] (in the order A's columns come), called once per model.
struct Weight {
  std::shared_ptr<const Packed> dense;
  std::shared_ptr<const SparsePacked> sparse;
  // A row length the GEMM reads: K padded to the dense kernel's k groups (no byte-wise tail), K when sparse.
  size_t kp() const { return dense ? dense->kp : sparse->k; }
  std::vector<int32_t> fold_bias(const int32_t* bias_q, int32_t za) const {
    return dense ? qgemm::fold_bias(*dense, bias_q, za) : qgemm::fold_bias(*sparse, bias_q, za);
  }
  void run(const uint8_t* a, size_t lda, size_t M, const int32_t* bias, const float* scale, const kernels::QRequant& rq,
           void* c, size_t ldc, ThreadPool* pool, bool padded_a = false) const {
    if (sparse) return run_sparse(a, lda, M, *sparse, bias, scale, rq, c, ldc, pool);
    qgemm::run(a, lda, M, *dense, bias, scale, rq, c, ldc, pool, padded_a);
  }
  const char* kind() const { return sparse ? "sqgemm-" : "qgemm-"; }
};

}  // namespace pyrt::qgemm
