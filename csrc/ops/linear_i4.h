// An int4 Linear weight used as stored (Gemm with transB, MatMul with transB): W [N, K] in the file's i4
// encoding, signed, groups along K. Up to kMaxRows rows of activations run the int4 x int8 GEMV on the stored
// nibbles (each row quantized per group on the fly: ONNX Runtime's MatMulNBits accuracy level 4), so the f32
// weight is never made; for more rows callers take the int8 GEMM on the weight requantized to int8 panels
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
  bool init(const NodeContext& ctx, size_t input, const ConstTensor& b) {
    if (!b.encoded() || b.desc.shape.size() != 2) return false;
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
      packed_ = ctx.shared<AlignedBytes>(input, "i4.packed", [&] {
        AlignedBytes p(kt.i4_pack_size(w_));
        kt.i4_pack(w_, p.data());
        return p;
      });
      w_.packed = packed_->data();
    }
    return true;
  }
  bool active() const { return w_.q != nullptr; }
  bool in_place() const { return active() && !packed_; }  // the GEMV reads the file's nibbles
  // After a read of the stored weight that the GEMV does not need (decoding it for another form): its file pages
  // leave the resident set again, unless the GEMV reads them.
  void release_stored() const {
    if (active() && packed_) model_->release_pages(tensor_);
  }
  int64_t n() const { return int64_t(w_.n); }
  int64_t k() const { return int64_t(w_.k); }
  size_t workspace_bytes() const { return align64(w_.ng * w_.group) + 2 * align64(w_.ng * 4); }

  // y[m] = W a[m] (+ bias: N values, or null) for m < rows; rows of K and N floats.
  void run(const RunContext& ctx, const kernels::Table& kt, const float* a, int64_t rows, const float* bias,
           float* y) const {
    uint8_t* ws = static_cast<uint8_t*>(ctx.workspace);
    int8_t* xq = reinterpret_cast<int8_t*>(ws);
    float* xs = reinterpret_cast<float*>(ws + align64(w_.ng * w_.group));
    int32_t* xsum = reinterpret_cast<int32_t*>(ws + align64(w_.ng * w_.group) + align64(w_.ng * 4));
    const kernels::I8Groups xg{xq, xs, xsum};
    for (int64_t m = 0; m < rows; ++m) {
      kernels::quantize_i8_groups(a + size_t(m) * w_.k, w_.k, w_.group, xq, xs, xsum);
      float* ym = y + size_t(m) * w_.n;
      parallel(ctx, w_.n, 64, [&](size_t b, size_t e, int) { kt.gemv_i4(w_, xg, bias, ym, b, e); });
    }
  }

 private:
  kernels::I4Matrix w_{};
  const Model* model_ = nullptr;
  size_t tensor_ = 0;
  std::shared_ptr<const AlignedBytes> packed_;
};

}  // namespace pyrt::ops
