// An int8 Linear weight used as stored (Gemm with transB, MatMul with transB): W [N, K] in the file's i8
// encoding, symmetric, one scale per output row (quantize="int8-weights"). Each row of activations is quantized
// on the fly to u8 with its own scale and zero point (from its min and max with 0: ONNX's DynamicQuantizeLinear
// per row, so a row after a ReLU uses all 256 levels; XNNPACK's "qd8-f32-qc8w" scheme is the same idea) and runs
// the u8 x s8 GEMM of static int8 models on the weight's panels, made once per model from the stored bytes: the
// f32 weight is never made. The GEMM folds a zero point of 128; each row's own is corrected after it:
//   y[m][n] = sa[m] * (sw[n] * sum_k (q[m][k] - 128) W[n][k] + (128 - za[m]) * sw[n] * sum_k W[n][k]) + bias[n]
// an exact int32 sum, then the same float steps on every kernel table: every table gives the same result.
//
// The same panels serve an int4 Linear weight for many rows (prefill): its rows decoded and requantized to int8
// with one scale per row (I8Weight::from_rows), a quarter of the f32 panels' memory; the extra rounding is at
// most half an int8 step of the row's largest weight (1/254 of it), against the int4 groups' 1/14.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "compute/qgemm.h"
#include "format/encoding.h"
#include "ops/common.h"

namespace pyrt::ops {

// Row j's scale of an i8 tensor stored per row (axis 0) or per tensor, from its scales buffer s (f32, unaligned).
inline float i8_row_scale(const TensorInfo& t, const uint8_t* s, size_t j) {
  float v;
  std::memcpy(&v, s + 4 * (t.p.axis == 0 ? j : 0), 4);
  return v;
}

// The weight as the int8 GEMM reads it.
struct I8Weight {
  static constexpr int32_t kZero = 128;  // the zero point the panels' folded bias assumes
  qgemm::Packed w;                 // its tail: the N row scales (f32), so one block is the whole stored form
  const float* scale = nullptr;    // per output row: the weight's scale (in w's tail)
  std::vector<float> wsum_scaled;  // ... times the sum of its weights (a row's own zero point's share)
  std::vector<int32_t> bias;       // the zero point kZero's share, folded per row
  size_t n = 0, k = 0;

  // W as int8 rows [N][K] with one scale per row.
  static I8Weight make(const int8_t* q, const float* scales, size_t n, size_t k, const kernels::QGemmKernel& uk) {
    I8Weight r;
    r.w = qgemm::pack(q, n, k, uk, 0, 1, scales, n * sizeof(float));
    r.finish();
    return r;
  }
  // make()'s block stored elsewhere (pre-packed in a model file: SPEC §6.6), or null when it is not one.
  static std::unique_ptr<I8Weight> view(const uint8_t* p, uint64_t size, size_t n, size_t k,
                                        const kernels::QGemmKernel& uk) {
    std::unique_ptr<qgemm::Packed> pk = qgemm::view(p, size, n, k, uk, n * sizeof(float));
    if (!pk) return nullptr;
    auto r = std::make_unique<I8Weight>();
    r->w = std::move(*pk);
    r->finish();
    return r;
  }
  // W given as f32 rows (`row(j, out)` writes row j's K values): each row quantized to int8 with its own scale.
  static I8Weight from_rows(const std::function<void(size_t, float*)>& row, size_t n, size_t k,
                            const kernels::QGemmKernel& uk) {
    std::vector<int8_t> q(n * k);
    std::vector<float> scales(n), w(k);
    for (size_t j = 0; j < n; ++j) {
      row(j, w.data());
      float mx = 0.f;
      for (float v : w) mx = std::fmax(mx, std::fabs(v));
      scales[j] = mx > 0.f ? mx / 127.f : 1.f;
      for (size_t i = 0; i < k; ++i) q[j * k + i] = int8_t(std::nearbyint(w[i] / scales[j]));
    }
    return make(q.data(), scales.data(), n, k, uk);
  }
  // Bytes make() / from_rows() hold, for a Deferred's declaration.
  static uint64_t bytes_for(size_t n, size_t k, const kernels::QGemmKernel& uk) {
    return qgemm::Packed::block_bytes(n, k, uk, n * sizeof(float)) + n * (4 + 4);
  }
  // NodeContext::packed: the stored block and its arrangement.
  const void* bytes() const { return w.bytes(); }
  size_t size() const { return w.size(); }
  static std::string layout(const kernels::QGemmKernel& uk) { return qgemm::Packed::layout_name(uk) + "+scales"; }

 private:
  void finish() {
    n = w.n, k = w.k;
    scale = reinterpret_cast<const float*>(w.tail_data());
    wsum_scaled.resize(n);
    for (size_t j = 0; j < n; ++j) wsum_scaled[j] = scale[j] * float(w.wsum[j]);
    bias = qgemm::fold_bias(w, nullptr, kZero);
  }
};

// The quantized rows (K padded to the kernel's groups) and their parameters, for `rows` rows.
inline size_t i8_workspace_bytes(const kernels::QGemmKernel& uk, size_t k, int64_t rows) {
  const size_t kp = (k + uk.kr - 1) / uk.kr * uk.kr;
  return align64(size_t(rows) * kp) + align64(size_t(rows) * sizeof(kernels::QParams));
}

// y[m] = act(W a[m] + bias) for m < rows (bias: N values, or null); rows of K and N floats. ws:
// i8_workspace_bytes(rows) (default: the node's workspace). Returns whether act was applied: None, Relu and Clip
// are, as the rows are finished; the caller applies any other.
inline bool run_i8(const I8Weight& w, const RunContext& ctx, const kernels::Table& kt, const float* a, int64_t rows,
                   const float* bias, float* y, const ActParams& act = {}, void* ws = nullptr) {
  const size_t M = size_t(rows), kp = w.w.kp, K = w.k, N = w.n;
  uint8_t* aq = static_cast<uint8_t*>(ws ? ws : ctx.workspace);
  kernels::QParams* q = reinterpret_cast<kernels::QParams*>(aq + align64(M * kp));
  const kernels::QRequant rq{0.f, 0.f, 0, true};
  const FusedClamp fc = fused_clamp(act);  // plain names: lambdas below capture them
  const bool fused = fc.fused;
  const float lo = fc.lo, hi = fc.hi;
  if (split_by_rows(rows, N * kp)) {
    // A small weight against many rows (a convolution's pixels): each thread takes its rows in blocks that stay in
    // cache from their quantization through the GEMM to the finish, instead of three passes over all the rows
    // (the same operations per row: the same results).
    parallel(ctx, M, 64, [&](size_t b, size_t e, int) {
      for (size_t r = b; r < e; r += 64) {
        const size_t n = std::min<size_t>(64, e - r);
        kt.quantize_rows_u8(a + r * K, n, K, K, aq + r * kp, kp, q + r);
        qgemm::run(aq + r * kp, kp, n, w.w, w.bias.data(), w.scale, rq, y + r * N, N, nullptr, true);
        kt.finish_rows(y + r * N, n, N, N, q + r, I8Weight::kZero, w.wsum_scaled.data(), bias, lo, hi);
      }
    });
    return fused;
  }
  parallel(ctx, M, 16, [&](size_t b, size_t e, int) { kt.quantize_rows_u8(a + b * K, e - b, K, K, aq + b * kp, kp, q + b); });
  qgemm::run(aq, kp, M, w.w, w.bias.data(), w.scale, rq, y, N, ctx.pool, true);
  parallel(ctx, M, 16, [&](size_t b, size_t e, int) {
    kt.finish_rows(y + b * N, e - b, N, N, q + b, I8Weight::kZero, w.wsum_scaled.data(), bias, lo, hi);
  });
  return fused;
}

class Int8Linear {
 public:
  // Whether b (input `input`, a [N, K] weight) is stored i8 per row (or per tensor) without zero points: then
  // this object runs it. A convolution's weight [N, C, kh, kw] gives `channels` = C: its columns are then taken
  // in channels-last im2col order (tap, channel), the order of the rows run() gets.
  bool init(const NodeContext& ctx, size_t input, const ConstTensor& b, size_t channels = 0) {
    if (!b.encoded() || b.desc.shape.size() != (channels ? 4 : 2)) return false;
    const TensorInfo& t = ctx.model().tensors()[b.tensor_index];
    if (t.encoding != spec::kEncI8 || t.p.zero_point || (t.p.axis != 0 && t.p.axis != -1)) return false;
    if (t.shape[0] == 0 || t.numel == 0) return false;  // nothing to pack (the f32 path handles empty weights)
    const size_t n = size_t(t.shape[0]), k = size_t(t.numel / t.shape[0]);
    const Model& model = ctx.model();
    const size_t tensor = b.tensor_index;
    const kernels::QGemmKernel uk = ctx.kernels().qgemm;
    w_ = ctx.packed<I8Weight>(input, channels ? "i8w.nhwc" : "i8w", I8Weight::layout(uk), [&] {
      const int8_t* w = reinterpret_cast<const int8_t*>(model.buffer(tensor, 0));
      const uint8_t* s = model.buffer(tensor, 1);
      std::vector<float> scales(n);
      for (size_t j = 0; j < n; ++j) scales[j] = i8_row_scale(t, s, j);
      const size_t taps = channels ? k / channels : 1;
      if (taps <= 1) return I8Weight::make(w, scales.data(), n, k, uk);
      std::vector<int8_t> r(n * k);  // [N][tap][C] from [N][C][tap]
      for (size_t o = 0; o < n; ++o)
        for (size_t c = 0; c < channels; ++c)
          for (size_t i = 0; i < taps; ++i) r[o * k + i * channels + c] = w[(o * channels + c) * taps + i];
      return I8Weight::make(r.data(), scales.data(), n, k, uk);
    }, [&](const uint8_t* p, uint64_t size) { return I8Weight::view(p, size, n, k, uk); });
    return true;
  }
  // Whether b is an f32 weight stored in an encoding that decodes by rows but that no int8 kernel reads as
  // stored (i4, lut, i8g): then its rows, decoded one at a time, are requantized to int8 with one scale per row (at
  // most half an int8 step of the row's largest weight added to the encoding's own error) and run like init()'s.
  // The stored pages leave the resident set once the panels are made: no f32 copy of the weight at any point.
  bool init_requantized(const NodeContext& ctx, size_t input, const ConstTensor& b, size_t channels = 0) {
    if (!b.encoded() || b.desc.shape.size() != (channels ? 4 : 2) || b.desc.dtype != spec::kF32) return false;
    const TensorInfo& t = ctx.model().tensors()[b.tensor_index];
    if (t.encoding != spec::kEncI4 && t.encoding != spec::kLut && t.encoding != spec::kEncI8g) return false;
    if (!find_encoding(t.encoding)->decode_row || t.shape[0] == 0 || t.numel == 0) return false;
    const size_t n = size_t(t.shape[0]), k = size_t(t.numel / t.shape[0]), tensor = b.tensor_index;
    const size_t taps = channels ? k / channels : 1;
    const Model& model = ctx.model();
    const kernels::QGemmKernel uk = ctx.kernels().qgemm;
    w_ = ctx.packed<I8Weight>(input, channels ? "i8w.requantized.nhwc" : "i8w.requantized", I8Weight::layout(uk), [&] {
      model.check_tensor(tensor);  // before decode_row (read only to pack: not at all when pre-packed)
      std::vector<float> r(k);
      return I8Weight::from_rows(
          [&](size_t j, float* out) {
            if (taps <= 1) return model.decode_row(tensor, j, out);
            model.decode_row(tensor, j, r.data());  // [C][tap] -> [tap][C], the channels-last im2col order
            for (size_t c = 0; c < channels; ++c)
              for (size_t i = 0; i < taps; ++i) out[i * channels + c] = r[c * taps + i];
          },
          n, k, uk);
    }, [&](const uint8_t* p, uint64_t size) { return I8Weight::view(p, size, n, k, uk); });
    model.release_pages(tensor);
    requantized_ = true;
    return true;
  }
  bool active() const { return w_ != nullptr; }
  bool requantized() const { return requantized_; }
  int64_t n() const { return int64_t(w_->n); }
  int64_t k() const { return int64_t(w_->k); }
  size_t workspace_bytes(int64_t rows) const { return align64(size_t(rows) * w_->w.kp) + align64(size_t(rows) * sizeof(kernels::QParams)); }
  bool run(const RunContext& ctx, const kernels::Table& kt, const float* a, int64_t rows, const float* bias,
           float* y, const ActParams& act = {}, void* ws = nullptr) const {
    return run_i8(*w_, ctx, kt, a, rows, bias, y, act, ws);
  }

 private:
  std::shared_ptr<const I8Weight> w_;
  bool requantized_ = false;
};

// An int4 (or other row-decodable) Linear weight [N, K] requantized to int8 panels, built when a plan first has
// more rows than the in-place GEMV wins for (see Deferred): the prefill path, without f32 panels.
inline Deferred<I8Weight> deferred_i8_weight(const NodeContext& ctx, size_t input, size_t n, size_t k) {
  const ConstTensor& c = ctx.require_const(input, "weight");
  const Model* model = &ctx.model();
  const size_t tensor = c.tensor_index;
  const kernels::QGemmKernel uk = ctx.kernels().qgemm;
  return ctx.deferred<I8Weight>(input, "i8w.requantized", I8Weight::bytes_for(n, k, uk), [=] {
    return I8Weight::from_rows([&](size_t j, float* out) { model->decode_row(tensor, j, out); }, n, k, uk);
  });
}

}  // namespace pyrt::ops
