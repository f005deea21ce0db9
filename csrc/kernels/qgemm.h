// u8 x s8 GEMM driver (static int8 models): C[M, N] = requant(A[M, K] . W^T + bias), A u8 row-major read in
// place (NHWC activations or im2col rows), W s8 [N, K] packed once into the table's panels (qgemm::pack).
//
// Every output element is an exact int32 sum followed by the shared float requantization, so results are
// bit-identical for any table, tile and thread split.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/dispatch.h"

namespace pyrt {
class ThreadPool;
}

namespace pyrt::qgemm {

// W [N, K] s8 in the panels of one kernel (QGemmKernel): ceil(N / nr) panels of round_up(K, kr) * nr bytes.
struct Packed {
  struct Free {
    void operator()(int8_t* p) const;
  };
  std::unique_ptr<int8_t, Free> data;
  size_t n = 0, k = 0, kp = 0;           // kp = K rounded up to kr
  kernels::QGemmKernel uk{};
  std::vector<int32_t> wsum;              // per column: sum_k W[n][k] (zero-point folding)
  size_t panel_bytes() const { return kp * uk.nr; }
};
Packed pack(const int8_t* w, size_t N, size_t K, const kernels::QGemmKernel& uk);

// The per-column bias the kernel adds: bias_q[n] (int32 at scale sa * sw[n], may be null) minus the
// activation zero point's share, for this kernel's a_offset.
std::vector<int32_t> fold_bias(const Packed& b, const int32_t* bias_q, int32_t za);

// c: u8 [M, ldc] (or f32 with rq.f32_out). bias: fold_bias(); scale: N per-column requantization scales.
// The kernel reads K bytes of each A row, or b.kp (K rounded up to the kernel's group) with `padded_a`: rows
// padded to whole groups (any values: W is zero there) skip the kernel's byte-wise tail.
void run(const uint8_t* a, size_t lda, size_t M, const Packed& b, const int32_t* bias, const float* scale,
         const kernels::QRequant& rq, void* c, size_t ldc, ThreadPool* pool, bool padded_a = false);

}  // namespace pyrt::qgemm
