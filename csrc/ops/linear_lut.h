// A Linear weight stored as shared values (lut, 4-bit codes: weight_sharing=K <= 16) used as stored: W [N, K]
// (Gemm / MatMul with transB, or a 1x1 channels-last convolution's [N, K, 1, 1]). The table's lookup GEMM reads the
// file's codes in place (kernels::Lut4Matrix); what the load makes is each row's 16-entry codebook quantized to
// int8 with one scale (16 bytes + 8 a row), and each row's sum of those int8 weights. Each row of activations is
// quantized on the fly to u8 with its own scale and zero point, as for int8-weights (ops/linear_i8.h).
// The codebook's rounding adds at most half an int8 step of the row's largest codebook entry (1/254 of it) to the
// weight-sharing error; the activations' rounding is int8-weights'.
#pragma once
#include <algorithm>
#include <cmath>
#include <vector>

#include "format/encoding.h"
#include "kernels/dispatch.h"
#include "ops/common.h"

namespace pyrt::ops {

class Lut4Linear {
 public:
  // Whether b (input `input`) is a 4-bit lut weight this table's lookup GEMM runs (conv1x1: a 1x1 convolution's
  // [N, K, 1, 1]); k must be even (each row starts on a byte) and small enough for exact int32 sums.
  bool init(const NodeContext& ctx, size_t input, const ConstTensor& b, bool conv1x1 = false) {
    const kernels::Table& kt = ctx.kernels();
    if (!kt.gemm_lut4 || !b.encoded() || b.desc.dtype != spec::kF32) return false;
    if (!matrix_weight_shape(b.desc.shape, conv1x1)) return false;
    const TensorInfo& t = ctx.model().tensors()[b.tensor_index];
    if (t.encoding != spec::kLut || t.p.index_bits != 4 || t.p.codebook_size > 16) return false;
    const size_t n = size_t(t.shape[0]), k = n ? size_t(t.numel) / n : 0;
    if (n == 0 || k == 0 || k % 2 || k > 32768) return false;
    const Model& model = ctx.model();
    const size_t tensor = b.tensor_index;
    model.check_tensor(tensor);  // the deferred checks a decode would have made (SPEC 6.4): codes < codebook size
    tables_ = ctx.shared<Tables>(input, "lut4.tables", [&] { return make_tables(model, tensor, n, k); });
    w_ = {model.buffer(tensor, 0), tables_->table.data(), tables_->scale.data(), tables_->wsum.data(), n, k};
    return true;
  }
  bool active() const { return tables_ != nullptr; }
  int64_t n() const { return int64_t(w_.n); }
  int64_t k() const { return int64_t(w_.k); }
  size_t workspace_bytes(int64_t rows) const {
    return align64(size_t(rows) * kp()) + align64(size_t(rows) * sizeof(kernels::QParams));
  }

  // y[m] = act(W a[m] + bias) for m < rows (bias: N values, or null); rows of K and N floats. workspace:
  // workspace_bytes(rows) (default: the node's). Returns whether act was applied (None, Relu, Clip are).
  bool run(const RunContext& ctx, const kernels::Table& kt, const float* a, int64_t rows, const float* bias, float* y,
           const ActParams& act = {}, void* workspace = nullptr) const {
    const size_t M = size_t(rows), K = w_.k, N = w_.n, ld = kp();
    uint8_t* xq = static_cast<uint8_t*>(workspace ? workspace : ctx.workspace);
    kernels::QParams* q = reinterpret_cast<kernels::QParams*>(xq + align64(M * ld));
    const FusedClamp fc = fused_clamp(act);  // plain names: lambdas below capture them
    const bool fused = fc.fused;
    const float lo = fc.lo, hi = fc.hi;
    if (split_by_rows(rows, N * K / 2)) {
      parallel(ctx, M, 48, [&](size_t b, size_t e, int) {
        kt.quantize_rows_u8(a + b * K, e - b, K, K, xq + b * ld, ld, q + b);
        kt.gemm_lut4(w_, xq + b * ld, ld, q + b, e - b, bias, lo, hi, y + b * N, N, 0, N);
      });
      return fused;
    }
    parallel(ctx, M, 16, [&](size_t b, size_t e, int) {
      kt.quantize_rows_u8(a + b * K, e - b, K, K, xq + b * ld, ld, q + b);
    });
    parallel(ctx, (N + 15) / 16, 1, [&](size_t b, size_t e, int) {
      kt.gemm_lut4(w_, xq, ld, q, M, bias, lo, hi, y, N, b * 16, std::min(e * 16, N));
    });
    return fused;
  }

 private:
  struct Tables {
    std::vector<int8_t> table;  // [n][16]
    std::vector<float> scale;
    std::vector<int32_t> wsum;
  };
  size_t kp() const { return (w_.k + 3) / 4 * 4; }  // activation row bytes: whole 4-byte words

  static Tables make_tables(const Model& model, size_t tensor, size_t n, size_t k) {
    const TensorInfo& t = model.tensors()[tensor];
    const uint8_t* codes = model.buffer(tensor, 0);
    const uint8_t* books = model.buffer(tensor, 1);
    const size_t kc = t.p.codebook_size;
    Tables r;
    r.table.assign(n * 16, 0);
    r.scale.resize(n);
    r.wsum.resize(n);
    for (size_t row = 0; row < n; ++row) {
      const size_t book = t.p.axis == 0 ? row : 0;
      float cb[16] = {}, amax = 0.f;
      for (size_t j = 0; j < kc; ++j) amax = std::max(amax, std::fabs(cb[j] = scale_at(books, book * kc + j, t.p.scale_dtype)));
      const float s = amax / 127.f > 0.f ? amax / 127.f : 1.f;  // a denormal step would not divide
      int8_t* tr = r.table.data() + row * 16;
      for (size_t j = 0; j < kc; ++j) tr[j] = int8_t(std::nearbyint(cb[j] / s));
      r.scale[row] = s;
      const uint8_t* c = codes + row * (k / 2);
      int32_t sum = 0;
      for (size_t i = 0; i < k / 2; ++i) sum += tr[c[i] & 0xF] + tr[c[i] >> 4];
      r.wsum[row] = sum;
    }
    return r;
  }

  kernels::Lut4Matrix w_{};
  std::shared_ptr<const Tables> tables_;
};

}  // namespace pyrt::ops
