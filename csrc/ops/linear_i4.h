// An int4 Linear weight used as stored (Gemm with transB, MatMul with transB): W [N, K] in the file's i4
// encoding, signed, groups along K. Up to kMaxRows rows of activations run the int4 x int8 GEMV on the stored
// nibbles (each row quantized per group on the fly: ONNX Runtime's MatMulNBits accuracy level 4), or, on a table
// that prepacks the weight (AVX-512 VNNI; NEON has no prepacked layout), its int4 GEMM on that copy (the same
// sums), so the f32 weight is never made. More rows run the table's int4 GEMM on the same weights where it has
// one (AVX-512 VNNI, NEON), else StoredLinear takes the int8 GEMM on the weight requantized to int8 panels
// (ops/linear_i8.h: deferred_i8_weight), built once when a plan first needs them.
#pragma once
#include <vector>

#include "kernels/dispatch.h"
#include "ops/common.h"

namespace pyrt::ops {

class Int4Linear {
 public:
  // Rows up to which the GEMV (one pass over the weights per row) beats decoding to f32 once.
  static constexpr int64_t kMaxRows = 8;
  // Whether b (input `input`, a [N, K] weight) is stored as signed int4: then this object reads it in place
  // (or the table's prepacked copy of it, built once per model and table).
  // conv1x1: b is a 1x1 convolution's weight [N, K, 1, 1] (its matrix view is the same [N, K]).
  bool init(const NodeContext& ctx, size_t input, const ConstTensor& b, bool conv1x1 = false) {
    if (!b.encoded() || !matrix_weight_shape(b.desc.shape, conv1x1)) return false;
    const TensorInfo& t = ctx.model().tensors()[b.tensor_index];
    if (t.encoding != spec::kEncI4 || !t.p.is_signed) return false;
    ctx.model().check_tensor(b.tensor_index);  // the deferred checks a decode would have made (SPEC 6.4)
    model_ = &ctx.model(), tensor_ = b.tensor_index;
    w_.q = ctx.model().buffer(b.tensor_index, 0);
    w_.scales = ctx.model().buffer(b.tensor_index, 1);
    w_.scales_f16 = t.p.scale_dtype == spec::kScaleF16;
    w_.n = size_t(t.rows), w_.k = size_t(t.cols), w_.group = size_t(t.p.group_size);
    w_.ng = (w_.k + w_.group - 1) / w_.group;
    const kernels::Table& kt = ctx.kernels();
    if (kt.i4_pack) {
      const size_t bytes = kt.i4_pack_size(w_);
      packed_ = ctx.packed<AlignedBytes>(
          input, "i4.packed", kt.i4_pack_layout,
          [&] {
            AlignedBytes p(bytes);
            kt.i4_pack(w_, p.data());
            return p;
          },
          [&](const uint8_t* p, uint64_t n) { return AlignedBytes::view(p, n, bytes); });
      w_.packed = packed_->data();
    }
    gemm_i4_ = kt.gemm_i4 != nullptr;
    return true;
  }
  // Whether table kt runs any number of rows on int4 weights (its int4 GEMM; see many_rows()).
  static bool gemm_on(const kernels::Table& kt) { return kt.gemm_i4 != nullptr; }
  bool active() const { return w_.q != nullptr; }
  bool in_place() const { return active() && !packed_; }  // the GEMV reads the file's nibbles
  // After a read of the stored weight that the GEMV does not need (decoding it for another form): its file pages
  // leave the resident set again, unless the GEMV reads them.
  void release_stored() const {
    if (active() && packed_) model_->release_pages(tensor_);
  }
  int64_t n() const { return int64_t(w_.n); }
  int64_t k() const { return int64_t(w_.k); }
  // Whether any number of rows runs on the int4 weights (the table's int4 GEMM, on its prepacked copy or the
  // file's nibbles); else more than kMaxRows rows take another form (Gemm / MatMul requantize the weight to int8
  // panels).
  bool many_rows() const { return active() && gemm_i4_; }
  bool runs(int64_t rows) const { return active() && (rows <= kMaxRows || many_rows()); }
  size_t workspace_bytes(int64_t rows) const {
    const size_t r = by_gemm(rows) ? size_t(rows) : 1;  // as run() lays it out
    return align64(r * w_.ng * w_.group) + 2 * align64(r * w_.ng * 4);
  }

  // y[m] = W a[m] (+ bias: N values, or null) for m < rows; rows of K and N floats.
  // workspace: workspace_bytes(rows) at `workspace` (default: the node's).
  void run(const RunContext& ctx, const kernels::Table& kt, const float* a, int64_t rows, const float* bias,
           float* y, void* workspace = nullptr) const {
    uint8_t* ws = static_cast<uint8_t*>(workspace ? workspace : ctx.workspace);
    const size_t r = by_gemm(rows) ? size_t(rows) : 1;  // rows quantized at once (workspace_bytes)
    int8_t* xq = reinterpret_cast<int8_t*>(ws);
    float* xs = reinterpret_cast<float*>(ws + align64(r * w_.ng * w_.group));
    int32_t* xsum = reinterpret_cast<int32_t*>(ws + align64(r * w_.ng * w_.group) + align64(r * w_.ng * 4));
    if (by_gemm(rows)) {  // every row quantized, then the GEMM over blocks of 16 outputs
      const size_t K = w_.k, kq = w_.ng * w_.group;
      if (rows <= kMaxRows) {  // a decode step: the few rows quantized here, the output blocks split
        kt.quantize_i8_rows(a, K, size_t(rows), K, w_.group, xq, xs, xsum);
        const kernels::I8Rows xr{xq, xs, xsum, size_t(rows)};
        parallel(ctx, (w_.n + 15) / 16, 4, [&](size_t b, size_t e, int) {
          kt.gemm_i4(w_, xr, bias, y, w_.n, b * 16, std::min(e * 16, w_.n));
        });
        return;
      }
      if (split_by_rows(rows, w_.n * kq / 2)) {  // each thread its rows, quantized and multiplied while they are in cache
        parallel(ctx, size_t(rows), 48, [&](size_t b, size_t e, int) {
          kt.quantize_i8_rows(a + b * K, K, e - b, K, w_.group, xq + b * kq, xs + b * w_.ng, xsum + b * w_.ng);
          const kernels::I8Rows xr{xq + b * kq, xs + b * w_.ng, xsum + b * w_.ng, e - b};
          kt.gemm_i4(w_, xr, bias, y + b * w_.n, w_.n, 0, w_.n);
        });
        return;
      }
      parallel(ctx, size_t(rows), 16, [&](size_t b, size_t e, int) {
        kt.quantize_i8_rows(a + b * K, K, e - b, K, w_.group, xq + b * kq, xs + b * w_.ng, xsum + b * w_.ng);
      });
      const kernels::I8Rows xr{xq, xs, xsum, size_t(rows)};
      parallel(ctx, (w_.n + 15) / 16, 1, [&](size_t b, size_t e, int) {
        kt.gemm_i4(w_, xr, bias, y, w_.n, b * 16, std::min(e * 16, w_.n));
      });
      return;
    }
    const kernels::I8Groups xg{xq, xs, xsum};
    for (int64_t m = 0; m < rows; ++m) {
      kernels::quantize_i8_groups(a + size_t(m) * w_.k, w_.k, w_.group, xq, xs, xsum);
      float* ym = y + size_t(m) * w_.n;
      parallel(ctx, w_.n, 64, [&](size_t b, size_t e, int) { kt.gemv_i4(w_, xg, bias, ym, b, e); });
    }
  }

 private:
  // Whether `rows` rows run the table's int4 GEMM rather than the GEMV row by row: many rows, and any number on
  // a prepacked copy (the GEMM's rows agree with the GEMV bit for bit there, and it takes the activations
  // quantized by the table's vector code in plain order, where the GEMV reorders them on every call).
  bool by_gemm(int64_t rows) const { return many_rows() && (rows > kMaxRows || packed_ != nullptr); }

  kernels::I4Matrix w_{};
  const Model* model_ = nullptr;
  size_t tensor_ = 0;
  std::shared_ptr<const AlignedBytes> packed_;
  bool gemm_i4_ = false;
};

}  // namespace pyrt::ops
