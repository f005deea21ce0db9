// A weight W [N, K] multiplied as the file stores it: a Linear layer's (Gemm / MatMul with transB) or a
// channels-last convolution's, as its im2col matrix. The choice of how it runs is made here once, for every op
// that has such a weight, in this order:
//   int8 as stored (Int8Linear); int4 (Int4Linear: the GEMV on the nibbles for few rows, and for many rows the
//   table's int4 GEMM on them, or else int8 panels requantized once when a plan first needs them); 4-bit shared
//   values on the lookup GEMM over the stored codes (Lut4Linear); else int4 / lut rows requantized to int8 at
//   load (Int8Linear::init_requantized).
// A convolution takes int4 as stored only as a 1x1 weight on a table with the int4 GEMM: its rows are pixels,
// always many, so without that GEMM its rows are requantized at load rather than at the first plan.
// f32, f16 and csr weights are not taken (the ops pack or run those themselves).
#pragma once
#include <string>

#include "ops/common.h"
#include "ops/linear_i4.h"
#include "ops/linear_i8.h"
#include "ops/linear_lut.h"

namespace pyrt::ops {

class StoredLinear {
 public:
  // Whether w (input `input`) is taken; channels: a convolution's input channels (group 1: its kxk weight is
  // read in the channels-last im2col order), 0 for a Linear weight [N, K].
  bool init(const NodeContext& ctx, size_t input, const ConstTensor& w, size_t channels = 0) {
    const bool conv = channels != 0;
    if (ctx.decode_weights()) return false;  // the op decodes w to f32
    qgemm_ = ctx.kernels().qgemm;
    if (i8_.init(ctx, input, w, channels)) return true;
    if ((!conv || Int4Linear::gemm_on(ctx.kernels())) && i4_.init(ctx, input, w, conv)) {
      if (!i4_.many_rows()) i4_rows_ = deferred_i8_weight(ctx, input, size_t(i4_.n()), size_t(i4_.k()));
      return true;
    }
    if (lut_.init(ctx, input, w, conv)) return true;
    return i8_.init_requantized(ctx, input, w, channels);
  }
  bool active() const { return i8_.active() || i4_.active() || lut_.active(); }
  int64_t n() const { return i8_.active() ? i8_.n() : i4_.active() ? i4_.n() : lut_.n(); }
  int64_t k() const { return i8_.active() ? i8_.k() : i4_.active() ? i4_.k() : lut_.k(); }
  // Whether runs read the file's bytes (the int4 nibbles without a packed copy, the lut codes).
  bool reads_stored() const { return i4_.in_place() || lut_.active(); }

  size_t workspace_bytes(int64_t rows) const {
    if (i8_.active()) return i8_.workspace_bytes(rows);
    if (lut_.active()) return lut_.workspace_bytes(rows);
    if (i4_.runs(rows)) return i4_.workspace_bytes(rows);
    return i8_workspace_bytes(qgemm_, size_t(k()), rows);
  }
  // Many rows of an int4 weight without the int4 GEMM: the int8 panels, made once (see Deferred).
  uint64_t prepare_bytes(int64_t rows) const { return as_i8(rows) || i4_rows_.built() ? i4_rows_.bytes() : 0; }
  void prepare(int64_t rows) {
    if (as_i8(rows) && !i4_rows_.built()) {
      i4_rows_.build();
      i4_.release_stored();
    }
  }

  // y[m] = act(W a[m] + bias) for m < rows (bias: N values, or null); rows of K and N floats; ws:
  // workspace_bytes(rows) (default: the node's). Returns whether act was applied (the int8 and lookup GEMMs
  // apply None, Relu and Clip as they finish the rows); the caller applies it otherwise.
  bool run(const RunContext& ctx, const kernels::Table& kt, const float* a, int64_t rows, const float* bias, float* y,
           const ActParams& act = {}, void* ws = nullptr) const {
    if (i8_.active()) return i8_.run(ctx, kt, a, rows, bias, y, act, ws);
    if (lut_.active()) return lut_.run(ctx, kt, a, rows, bias, y, act, ws);
    if (as_i8(rows)) return run_i8(i4_rows_.get(), ctx, kt, a, rows, bias, y, act, ws);
    i4_.run(ctx, kt, a, rows, bias, y, ws);
    return act.act == Act::kNone;
  }

  // The kernel `rows` rows run, without the table's name.
  std::string kernel(int64_t rows) const {
    if (lut_.active()) return "qd8-gemm-lut4-";
    if (i8_.active()) return i8_.requantized() ? "qd8-gemm-i8w-requantized-" : "qd8-gemm-i8w-";
    if (as_i8(rows)) return "qd8-gemm-i4w-as-i8-";
    return rows > Int4Linear::kMaxRows ? "gemm-i4-" : "gemv-i4-";
  }

 private:
  bool as_i8(int64_t rows) const { return i4_.active() && !i4_.runs(rows); }  // many int4 rows, no int4 GEMM

  Int8Linear i8_;
  Int4Linear i4_;
  Lut4Linear lut_;
  Deferred<I8Weight> i4_rows_;  // an int4 weight requantized to int8 panels, for many rows without the int4 GEMM
  kernels::QGemmKernel qgemm_{};
};

}  // namespace pyrt::ops
