// f32 GEMM panels of a constant operand, shared by every session of the model and read in place from the
// file when it carries them pre-packed for the table's tile (NodeContext::packed, SPEC §6.6).
#pragma once
#include <string>

#include "compute/gemm.h"
#include "core/op.h"

namespace pyrt::ops {

// B (K x N) of input `input`, made by `make` (a gemm::PackedB) when the file has no such panels.
template <typename F>
std::shared_ptr<const gemm::PackedB> panels_b(const NodeContext& ctx, size_t input, const std::string& key, size_t K,
                                              size_t N, F make) {
  const kernels::Table& kt = ctx.kernels();
  return ctx.packed<gemm::PackedB>(input, key, gemm::panels_layout(kt.f32_gemm_nr), make,
                                   [&](const uint8_t* p, uint64_t n) { return gemm::view_b(kt, p, n, K, N); });
}

// A (M x K) of input `input`, likewise.
template <typename F>
std::shared_ptr<const gemm::PackedA> panels_a(const NodeContext& ctx, size_t input, const std::string& key, size_t M,
                                              size_t K, F make) {
  const kernels::Table& kt = ctx.kernels();
  return ctx.packed<gemm::PackedA>(input, key, gemm::panels_layout(kt.f32_gemm_mr), make,
                                   [&](const uint8_t* p, uint64_t n) { return gemm::view_a(kt, p, n, M, K); });
}

}  // namespace pyrt::ops
