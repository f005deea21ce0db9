// A Linear weight W [N, K] stored in an encoding the f32 GEMM cannot read (csr), decoded and packed for
// the GEMM only when a plan has more rows than the in-place kernels (int4 GEMV, sparse matrix-vector) win for.
// The decoded f32 copy is a temporary of the packing: only the panels stay, shared by every session of the
// model (Deferred) and counted against each session's memory cap.
#pragma once
#include <vector>

#include "compute/gemm.h"
#include "core/op.h"

namespace pyrt::ops {

inline Deferred<gemm::PackedB> deferred_dense_b(const NodeContext& ctx, size_t input, size_t n, size_t k) {
  const ConstTensor& c = ctx.require_const(input, "weight");
  const Model* model = &ctx.model();
  const size_t tensor = c.tensor_index;
  const kernels::Table* kt = &ctx.kernels();
  return ctx.deferred<gemm::PackedB>(input, "gemm.B.decoded", gemm::packed_b_bytes(*kt, k, n), [=] {
    std::vector<float> w(n * k);
    model->decode(tensor, w.data(), w.size() * sizeof(float));
    return gemm::pack_b(*kt, w.data(), k, true, k, n);
  });
}

}  // namespace pyrt::ops
