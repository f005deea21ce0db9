// Kernel tables and CPU feature detection. A table is the reference table with the fields its ISA variant
// overrides set by name (dispatch.cc); every variant has a unique name ("avx512-vnni-vbmi", "neon-dot", ...)
// that keys the packed-weight cache and shows in describe() / pyrt_benchmark. The best variant the CPU
// supports is picked once, at first use. PYRT_KERNELS=ref in the environment (or force_reference()) selects
// the scalar reference, PYRT_KERNELS=<variant name> that variant (when the CPU runs it).
// Kernels are leaves: this header and every kernel file include only kernels/ (and the C++ library).
#pragma once
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/activation.h"

namespace pyrt::kernels {

// f32 GEMM microkernel contract. C[mr x nr] (row stride ldc floats) = A panel . B panel, both packed by
// compute/gemm.cc: a is kc x MR (a[k*MR + r]), b is kc x NR (b[k*NR + j]), 64-byte aligned, zero padded
// past mr / nr; 1 <= mr <= MR, 1 <= nr <= NR, kc >= 0. Every C element is one FMA chain over k in order,
// so results do not depend on the tile, the K blocking or the thread split (all kernels bit-identical).
enum : uint32_t {
  kGemmLoadC = 1,  // C already holds the sum over earlier k: continue it (instead of starting from 0)
  kGemmFinal = 2,  // last k block: add bias, then apply the activation, before storing
};
struct GemmUkArgs {
  uint32_t flags;
  const float* bias_row;  // mr values (one per row of this tile) or null; used with kGemmFinal only
  const float* bias_col;  // nr values (one per column) or null
  uint8_t act;            // Act::kNone, kRelu, kClip, kLeakyRelu (others are not applied here)
  float p0, p1;
};
using F32GemmUkernel = void (*)(size_t mr, size_t nr, size_t kc, const float* a, const float* b, float* c,
                                size_t ldc, const GemmUkArgs& args);
// The same product with A read in place, row-major: element (r, k) at a[r*lda + k] (no packing). B packed as
// above. Same FMA chains, so the same bits as the packed kernel.
using F32GemmUaUkernel = void (*)(size_t mr, size_t nr, size_t kc, const float* a, size_t lda, const float* b,
                                  float* c, size_t ldc, const GemmUkArgs& args);

// One channel of a depthwise 2-D convolution (NCHW): y[oh][ow] = bias + sum_ij w[i][j] x[oh*sh-pt+i*dh][ow*sw-pl+j*dw]
// (zero outside x). Taps are accumulated in (i, j) order with fused multiply-adds, so every ISA gives the
// reference's result. `scratch` holds dwconv_scratch_floats(p) floats.
struct DwConvParams {
  int64_t h, w, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow;
};
size_t dwconv_scratch_floats(const DwConvParams& p);

// Depthwise 2-D convolution in NHWC (channels last), output rows [oh0, oh1) of one image, channels [cb, ce):
// y[oh][ow][c] = act(bias[c] + sum over taps (i, j) inside x of w[i*kw + j][c] * x[ih][iw][c]). Taps are
// accumulated in (i, j) order with fused multiply-adds, taps outside x skipped, so every ISA gives the
// reference's result. The vector runs along channels: full lanes whatever the spatial size (the NCHW kernel
// loses most of its lanes on 7x7 planes). act: kNone, kRelu and kClip are applied here, others by the caller.
// bias may be null (zero).
// c is the tensors' channel count (the stride between pixels of x and y, and between taps of w); a call
// computes channels [cb, ce) of its rows (threads split big rows by channel blocks too).
struct DwNhwcParams {
  int64_t h, w, c, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow;
  int64_t cb, ce;
};
using DwConvNhwcFn = void (*)(const DwNhwcParams& p, const float* x, const float* w, const float* bias,
                              const ActParams& act, float* y, int64_t oh0, int64_t oh1);

// int4-weight x int8-activation matrix-vector product (ONNX Runtime's MatMulNBits at accuracy level 4,
// llama.cpp's Q4_0 x Q8_0): the weight stays in the file's i4 layout (signed, groups of `group` along k, the
// group (n, g) at q + (n * ng + g) * group / 2, low nibble first, one f16 or f32 scale per group) and x is
// quantized per group by quantize_i8_groups. Each group's integer dot product is exact;
// y[n] = bias[n] + sum_g float(dot_g) * (wscale[n][g] * xscale[g]), the float sum in an ISA-specific order
// (vector lanes), so ISAs agree to float rounding, not bit for bit.
struct I4Matrix {
  const uint8_t* q;
  const void* scales;
  bool scales_f16;
  size_t n, k, group, ng;  // ng = ceil(k / group)
  // The table's prepacked copy (Table::i4_pack) when it has one, else null (the kernel reads q and scales).
  const uint8_t* packed = nullptr;
};
// x's quantized values are stored in the nibbles' order: within each chunk of 32 (of `group` when it is 16),
// the even-indexed values first, then the odd-indexed ones, so that a chunk's low nibbles meet the first half
// and its high nibbles the second without shuffling (i4_chunk / i4_slot below give the mapping).
struct I8Groups {
  const int8_t* q;        // ng * group values (zero past k), chunk-deinterleaved
  const float* scale;     // per group: max|x| / 127 (0 for an all-zero group)
  const int32_t* sum;     // per group: the sum of its q (for unsigned-times-signed dot instructions)
};
// x[k] -> I8Groups buffers: q (ng * group), scale (ng), sum (ng). One scalar routine for every ISA, so all
// see the same quantized activations.
void quantize_i8_groups(const float* x, size_t k, size_t group, int8_t* q, float* scale, int32_t* sum);
inline size_t i4_chunk(size_t group) { return group < 32 ? group : 32; }
// Where value i of a group lies in its quantized storage.
inline size_t i4_slot(size_t i, size_t chunk) {
  const size_t c = i / chunk * chunk, j = i - c;
  return c + (j & 1) * (chunk / 2) + j / 2;
}
using GemvI4Fn = void (*)(const I4Matrix& w, const I8Groups& x, const float* bias, float* y, size_t n0, size_t n1);
// Many rows of activations for the int4 GEMM, each quantized per group as quantize_i8_groups does and kept in
// plain k order (or, for tables with i4_rows_chunked, in the GEMV's chunk order): q [rows][ng * group] (zero
// past k), scale and corr [rows][ng], corr = -8 * the group's sum of q (the correction the kernels' unsigned
// weights w + 8 need, ready to broadcast).
struct I8Rows {
  const int8_t* q;
  const float* scale;
  const int32_t* corr;
  size_t rows;
};
// x [rows][ldx] -> I8Rows buffers: the same values as quantize_i8_groups row by row (in plain order; -8 sum).
using QuantI8RowsFn = void (*)(const float* x, size_t ldx, size_t rows, size_t k, size_t group, int8_t* q, float* scale,
                               int32_t* corr);
void quantize_i8_rows(const float* x, size_t ldx, size_t rows, size_t k, size_t group, int8_t* q, float* scale,
                      int32_t* corr);
// The same rows with each row's values in the GEMV's chunk order (i4_slot), as quantize_i8_groups lays them out.
void quantize_i8_rows_chunked(const float* x, size_t ldx, size_t rows, size_t k, size_t group, int8_t* q,
                              float* scale, int32_t* corr);
// y[m][n] (row stride ldy) = bias[n] + sum_g float(dot_g) * (wscale[n][g] * xscale[m][g]) for every row m and
// n in [n0, n1): the GEMV of every row, on the table's prepacked weights (w.packed) when it has a layout, else on
// the file's, with each row's sums in the same order as that table's gemv_i4 (so the two agree bit for bit), the
// weights unpacked once for several rows.
using GemmI4Fn = void (*)(const I4Matrix& w, const I8Rows& x, const float* bias, float* y, size_t ldy, size_t n0,
                          size_t n1);

// ---- shared values (lut): 4-bit codes looked up in registers ----
struct QParams;
// A matrix W [n, k] stored as 4-bit codes into one 16-entry codebook per row (or one for all rows), read in
// place: the file's nibble stream (row r from byte r * k / 2, k even, low nibble first). Each row's codebook is
// quantized to int8 with one scale (table, scale; wsum = the row's sum of int8 weights, for the activations'
// zero point), so a weight is scale[r] * table[r][code]. Activations come as the u8 rows quantize_rows_u8
// makes (one scale and zero point a row), in rows of ldx >= k rounded up to 4 bytes, zero past k.
struct Lut4Matrix {
  const uint8_t* codes;
  const int8_t* table;  // [n][16]
  const float* scale;   // [n]
  const int32_t* wsum;  // [n]
  size_t n, k;
};
constexpr size_t kLut4Chunk = 128;  // k values a kernel step reads (64 code bytes)
// For every row m < rows and n in [n0, n1): y[m][n] (row stride ldy) = min(max(fma(float(acc - q[m].zp *
// wsum[n]), q[m].scale * scale[n], bias[n] or 0), lo), hi), acc = sum_k x[m][k] * table[n][code[n][k]] (exact
// int32): the same operations on every table, so every one gives the reference's bits.
using GemmLut4Fn = void (*)(const Lut4Matrix& w, const uint8_t* x, size_t ldx, const QParams* q, size_t rows,
                            const float* bias, float lo, float hi, float* y, size_t ldy, size_t n0, size_t n1);

// ---- 8-bit integer kernels (static int8 models) ----
// Activations are u8 with a per-tensor zero point, weights s8 symmetric with one scale per output channel
// (ONNX QLinearConv with uint8 x/y, int8 w). Accumulators are exact int32; requantization is in float
// (XNNPACK's "fp32" scheme) with the same operations on every ISA, so every kernel is bit-exact with the
// reference:  y = zp + nearbyint(min(max(float(acc) * scale[c], lo), hi))   (ties to even)
// where lo = qmin - zp and hi = qmax - zp fold the fused activation's clamp and the u8 range.
struct QRequant {
  float lo, hi;
  int32_t zp;
  bool f32_out;  // store float(acc) * scale[c] as f32 instead (a QGemm's float logits): no clamp, no rounding
};
// Exact round-half-to-even of |v| < 2^22 without SSE4.1 (adding and removing 1.5 * 2^23): what every
// requantization and quantization routine uses, scalar and vector alike. Needs IEEE float without
// -ffast-math (IEEE arithmetic forbids folding (v + c) - c into v; the project never builds with it).
inline float round_even(float v) { return (v + 12582912.0f) - 12582912.0f; }
// The scalar requantization every kernel's tail uses.
inline uint8_t requant_one(int32_t acc, float scale, const QRequant& rq) {
  const float v = float(acc) * scale;
  return uint8_t(int32_t(round_even(v < rq.lo ? rq.lo : v > rq.hi ? rq.hi : v)) + rq.zp);
}
// Per-tensor u8 affine parameters of an activation: real = (q - zp) * scale.
struct QParams {
  float scale;
  int32_t zp;
};
// y = saturate(nearbyint(x / s) + zp) (ONNX QuantizeLinear); x * (1 / s) would round differently.
using QuantizeU8Fn = void (*)(const float* x, size_t n, QParams q, uint8_t* y);
// Rows of activations quantized each with its own parameters, for the u8 x s8 GEMM (ops/linear_i8.h): for each of
// m rows of k floats (ldx apart), q[r] = row_qparams(min(x, 0), max(x, 0), finite) (min / max ignore NaN; finite:
// no NaN or infinity in the row), then as quantize_u8 into rows of ldy >= k bytes whose bytes k..ldy-1 are 0.
using QuantizeRowsU8Fn = void (*)(const float* x, size_t m, size_t k, size_t ldx, uint8_t* y, size_t ldy, QParams* q);
inline QParams row_qparams(float lo, float hi, bool finite) {
  // A row with a NaN or an infinity gets scale NaN: its outputs come out NaN (finish_rows), as f32 math would
  // give NaN or infinities there, never finite numbers. A row of zeros, or of values so small that the step
  // would be denormal, keeps scale 1: its bytes are the zero point and its outputs the bias.
  if (!finite) return {std::numeric_limits<float>::quiet_NaN(), 128};
  const float s = (hi - lo) / 255.f;
  if (!(s >= std::numeric_limits<float>::min())) return {1.f, 128};
  const float z = round_even(-lo / s);  // in [0, 255] up to rounding
  return {s, int32_t(z < 0.f ? 0.f : z > 255.f ? 255.f : z)};
}
// The GEMM's f32 rows finished (its zero point folded as `zfold`, each row's own corrected):
//   v = fma(fma(float(zfold - q[r].zp), wsum[c], y[r][c]), q[r].scale, bias[c] or 0)
//   y[r][c] = v < lo ? lo : v > hi ? hi : v      (NaN stays NaN)
// with wsum[c] = the weight's scale times the sum of its row; rows ldy apart.
using FinishRowsFn = void (*)(float* y, size_t m, size_t n, size_t ldy, const QParams* q, int32_t zfold,
                              const float* wsum, const float* bias, float lo, float hi);
// y = (x - zp) * s
using DequantizeU8Fn = void (*)(const uint8_t* x, size_t n, QParams q, float* y);
// y = requant((a - za) * (sa / sy) + (b - zb) * (sb / sy)) with ma = sa / sy, mb = sb / sy precomputed:
// v = fma(float(b - zb), mb, float(a - za) * ma), clamped to [lo, hi], rounded to even, + zy.
// a_step / b_step: 1, or 0 to broadcast a scalar.
struct QAddParams {
  int32_t za, zb;
  float ma, mb;
  QRequant rq;
};
using QAddU8Fn = void (*)(const uint8_t* a, size_t a_step, const uint8_t* b, size_t b_step, const QAddParams& p,
                          uint8_t* y, size_t n);

// u8 x s8 GEMM microkernel: C[r][j] = requant(bias[j] + sum_k A[r][k] * B[k][j]) for r < mr <= MR, j < nr <= NR.
// A is read in place: row r at a + r * lda, k bytes (never read past them). B is one packed panel of the
// table's layout: for each group of KR k's, NR columns x KR bytes (b[(g * NR + j) * KR + t] = B[g*KR + t][j],
// zero past k and past nr). c is u8 (or f32 with f32_out), row stride ldc elements.
// Kernels that compute on A - a_offset (sdot on signed bytes: a_offset 128) need bias[j] to hold
// bias - (zp_a - a_offset) * sum_k B[k][j]; exact u8 x s8 kernels (a_offset 0) bias - zp_a * sum_k B[k][j].
using QGemmUkernel = void (*)(size_t mr, size_t nr, size_t k, const uint8_t* a, size_t lda, const int8_t* b,
                              const int32_t* bias, const float* scale, const QRequant& rq, void* c, size_t ldc);
struct QGemmKernel {
  QGemmUkernel fn;
  size_t mr, nr, kr;
  int32_t a_offset;
};
// Depthwise convolution, channels last, u8 in and out: for channels [p.cb, p.ce) of output rows [oh0, oh1),
// acc = bias[c] + sum over taps inside x of (x[ih][iw][c] - zx) * w[i*kw + j][c]  (taps outside skipped: they
// read the zero point), then requant with scale[c]. w is int16 [kh*kw][C] (the s8 weights widened once at load).
using QDwConvNhwcFn = void (*)(const DwNhwcParams& p, const uint8_t* x, int32_t zx, const int16_t* w,
                               const int32_t* bias, const float* scale, const QRequant& rq, uint8_t* y, int64_t oh0,
                               int64_t oh1);

// ---- Sparse weights (CSR rows, repacked at load from the file's csr encoding) ----
// A sparse matrix W [rows, cols]: the nonzeros of row r are entries start[r] .. start[r+1] of `w` (f32 values)
// with column col[k] (col16[k] when col16 is set). Rows with no nonzero give bias (or 0). The arrays may be the
// file's csr buffers themselves (plain CSR with u16 columns: read in place from the mapping).
struct SparseRows {
  size_t rows, cols;
  const uint32_t* start;  // rows + 1
  const float* w;
  const uint32_t* col;  // may be null when col16 is set
  // Optional: the rows by nonzero count (a permutation), so that kernels that run several rows in lockstep
  // pair rows of similar length; null = in order. Results do not depend on it.
  const uint32_t* order = nullptr;
  // The columns as u16 (cols <= 65536: the file's index_width 2), read instead of col when set; and, optional
  // for the memory-bound spmv, the values as i8 with one scale per row (w[k] = q[k] * row_scale[r]; spmv then
  // computes row_scale[r] * sum(q[k] * x[col[k]])).
  const uint16_t* col16 = nullptr;
  const int8_t* q = nullptr;
  const float* row_scale = nullptr;
  // Optional, for spmm: where each column's input row starts in x (elements); null = col * x_stride. A kxk
  // convolution's columns (c, i, j) are the padded input plane c shifted by i rows and j columns.
  const size_t* x_offset = nullptr;
  // Optional, for spmv: the table's own layout of the rows (spmv_pack), built once at load.
  const uint8_t* packed = nullptr;
};
inline uint32_t col_at(const SparseRows& m, size_t k) { return m.col16 ? m.col16[k] : m.col[k]; }
// f(cols) with the column array the matrix has (u16 or u32): kernels instantiate their loops for both.
template <class F>
inline void with_cols(const SparseRows& m, F&& f) {
  if (m.col16) f(m.col16);
  else f(m.col);
}
inline size_t x_row(const SparseRows& m, uint32_t c, size_t x_stride) {
  return m.x_offset ? m.x_offset[c] : size_t(c) * x_stride;
}
// 1x1 convolution in channels-first layout as a sparse x dense product (XNNPACK's spmm): for pixels
// [p0, p1) and every output channel o: y[o][p] = act(bias[o] + sum over the row's nonzeros of
// w[k] * x[x_row(col[k]) + p]). Each output is one FMA chain over the row's nonzeros in order, so every
// ISA gives the reference's bits. act: kNone, kRelu, kClip here (others: the caller, after).
using SpmmFn = void (*)(const SparseRows& m, size_t x_stride, const float* bias, const ActParams& act,
                        const float* x, float* y, size_t y_stride, size_t p0, size_t p1);
// Sparse matrix-vector product y[r] = bias[r] + sum over row r's nonzeros of w[k] * x[col[k]], rows [r0, r1)
// (with q: bias[r] + row_scale[r] * sum q[k] * x[col[k]]). The sum is split over vector lanes (an ISA-specific
// order): ISAs agree to float rounding, not bit for bit. With `packed` (the table's spmv_pack layout), r0 is a
// multiple of spmv_group.
using SpmvFn = void (*)(const SparseRows& m, const float* x, const float* bias, float* y, size_t r0, size_t r1);

// Sparse u8 x s8 product (static int8 models with pruned weights): for A rows [0, m) and W rows [n0, n1),
// C[i][n] = requant(bias[n] + sum over row n's nonzeros of A[i][col] * w), A u8 read in place (K = cols bytes
// per row, lda apart). bias already holds the activation zero point's share (bias - zp * sum of the row: the
// sums here are of raw u8 x s8, a_offset 0). C is u8 (f32 with f32_out), ldc elements per row.
// W as CSR rows (start/col/q) and, for kernels with their own layout (group > 0), `packed`: rows in groups of
// `group`, columns in blocks of `block`; within a group and block, steps of 4 nonzeros of every row of the group
// (a row with fewer: zero weights at column 0), as the local column bytes of the step and then its weights:
//   packed = u32 offset[groups + 1] (bytes, from packed) ; per group at its offset: u8 steps[blocks] padded to
//            64 bytes, then for each block its steps, each 4 * group index bytes + 4 * group weight bytes.
// n0 is a multiple of group. Exact int32 sums: every table and layout gives the reference's bits.
struct SparseQ {
  size_t rows, cols;
  const uint32_t* start;
  const uint32_t* col;
  const int8_t* q;
  const uint8_t* packed = nullptr;
};
using SqGemmFn = void (*)(const SparseQ& w, const uint8_t* a, size_t lda, size_t m, const int32_t* bias,
                          const float* scale, const QRequant& rq, void* c, size_t ldc, size_t n0, size_t n1);
struct SqGemmKernel {
  SqGemmFn fn;
  size_t group, block;  // the packed layout's (0: the kernel reads the CSR rows)
};

// Attention over a KV cache (one query row; ops/attention.cc): the scores of q against n cached keys, and the
// probability-weighted sum of n cached values. Rows of d floats, `ld` floats apart.
//   scores[j] = scale * sum_i q[i] k[j*ld + i]        (j < n)
//   out[i]    = sum_j p[j] v[j*ld + i]                (i < d)
using AttnScoresFn = void (*)(const float* q, const float* k, size_t ld, size_t n, size_t d, float scale,
                              float* scores);
using AttnValuesFn = void (*)(const float* p, const float* v, size_t ld, size_t n, size_t d, float* out);
// The same over a cache stored as IEEE binary16 (half the bytes to stream per decode step).
using AttnScoresF16Fn = void (*)(const float* q, const uint16_t* k, size_t ld, size_t n, size_t d, float scale,
                                 float* scores);
using AttnValuesF16Fn = void (*)(const float* p, const uint16_t* v, size_t ld, size_t n, size_t d, float* out);
// The same over a cache stored as i8 with one scale per cached row (a token's key or value of one head):
//   scores[j] = scale * sum_i q[i] k[j*ld + i] * k_scale[j];  out[i] = sum_j p[j] v_scale[j] v[j*ld + i]
using AttnScoresI8Fn = void (*)(const float* q, const int8_t* k, const float* k_scale, size_t ld, size_t n, size_t d,
                                float scale, float* scores);
using AttnValuesI8Fn = void (*)(const float* p, const int8_t* v, const float* v_scale, size_t ld, size_t n, size_t d,
                                float* out);

struct Table {
  // The variant's unique name: "ref", "avx2", "avx512", "avx512-vnni", "avx512-vnni-vbmi", "neon", "neon-dot"...
  const char* name = "ref";
  // CRC-32C register update (no initial value / final XOR applied here).
  uint32_t (*crc32c_update)(uint32_t crc, const uint8_t* p, size_t n) = nullptr;
  // IEEE binary16 -> binary32, exact.
  void (*f16_to_f32)(const uint16_t* in, float* out, size_t n) = nullptr;
  // out[i] = float(q[i] - zp) * scale
  void (*dequant_i8)(const int8_t* q, size_t n, int32_t zp, float scale, float* out) = nullptr;
  // n (even) values from a nibble stream (low nibble first); signed: q in [-8, 7], else q - zp.
  void (*dequant_i4)(const uint8_t* packed, size_t n, bool is_signed, int32_t zp, float scale, float* out) = nullptr;
  // y[i] = act(x[i]) (x == y allowed)
  void (*unary)(const ActParams& a, const float* x, float* y, size_t n) = nullptr;
  // y[i] = a[i] op b[i]; a_step/b_step are 0 (broadcast a scalar) or 1 (x == y allowed)
  void (*binary)(int op, const float* a, size_t a_step, const float* b, size_t b_step, float* y, size_t n) = nullptr;
  // f32 GEMM microkernel and its tile (MR rows x NR columns); the packed layouts follow the tile.
  // f32_gemm_ref is its reference twin (the scalar kernel with the same tile: the same bits), which the
  // reference table of this variant runs and from which workspaces are sized.
  F32GemmUkernel f32_gemm = nullptr;
  size_t f32_gemm_mr = 0, f32_gemm_nr = 0;
  F32GemmUkernel f32_gemm_ref = nullptr;
  // f32_gemm's tile with unpacked A, or null: the GEMM driver then packs A (same results either way)
  F32GemmUaUkernel f32_gemm_ua = nullptr;
  // depthwise convolution of one channel (see DwConvParams)
  void (*dwconv)(const DwConvParams& p, const float* x, const float* w, float bias, float* y, float* scratch) = nullptr;
  // depthwise convolution, channels last (see DwNhwcParams)
  DwConvNhwcFn dwconv_nhwc = nullptr;
  // rows [n0, n1) of the int4 x int8 matrix-vector product (see I4Matrix)
  GemvI4Fn gemv_i4 = nullptr;
  // Optional: the int4 GEMM for many rows (on the prepacked weights where the table has i4_pack), its row
  // quantizer below and the order it keeps the rows in (the GEMV's chunk order when i4_rows_chunked).
  GemmI4Fn gemm_i4 = nullptr;
  bool i4_rows_chunked = false;
  // Optional: the shared-values (lut, 4-bit) GEMM on the stored codes (see Lut4Matrix); without it Gemm /
  // MatMul / convolutions requantize such weights to int8 rows.
  GemmLut4Fn gemm_lut4 = nullptr;
  QuantI8RowsFn quantize_i8_rows = kernels::quantize_i8_rows;
  // Optional: a layout of the int4 weights the table's gemv_i4 reads faster than the file's (built once at
  // load into i4_pack_size() bytes, 64-byte aligned, passed as I4Matrix::packed); null: the canonical layout.
  size_t (*i4_pack_size)(const I4Matrix& w) = nullptr;
  void (*i4_pack)(const I4Matrix& w, uint8_t* dst) = nullptr;
  const char* i4_pack_layout = nullptr;  // names that layout (tables sharing i4_pack share it; SPEC §6.6)
  // u8 x s8 GEMM microkernel and its tile (see QGemmUkernel)
  QGemmKernel qgemm{};
  // u8 depthwise convolution, channels last (see QDwConvNhwcFn)
  QDwConvNhwcFn qdwconv_nhwc = nullptr;
  QuantizeU8Fn quantize_u8 = nullptr;
  QuantizeRowsU8Fn quantize_rows_u8 = nullptr;
  FinishRowsFn finish_rows = nullptr;
  DequantizeU8Fn dequantize_u8 = nullptr;
  QAddU8Fn qadd_u8 = nullptr;
  // sparse 1x1 convolution (channels first) and sparse matrix-vector product (see SparseRows)
  SpmmFn spmm = nullptr;
  SpmvFn spmv = nullptr;
  // Optional: a layout of the sparse rows the table's spmv reads faster (SparseRows::packed; spmv then takes
  // rows [r0, r1) with r0 a multiple of spmv_group); null: spmv reads the CSR rows.
  size_t (*spmv_pack_size)(const SparseRows& m) = nullptr;
  void (*spmv_pack)(const SparseRows& m, uint8_t* dst) = nullptr;
  size_t spmv_group = 1;
  // sparse u8 x s8 product (see SparseQ)
  SqGemmKernel sqgemm{};
  // attention over a KV cache, f32, f16 and i8 caches
  AttnScoresFn attn_scores = nullptr;
  AttnValuesFn attn_values = nullptr;
  AttnScoresF16Fn attn_scores_f16 = nullptr;
  AttnValuesF16Fn attn_values_f16 = nullptr;
  AttnScoresI8Fn attn_scores_i8 = nullptr;
  AttnValuesI8Fn attn_values_i8 = nullptr;
};

// kPRelu: a < 0 ? b * a : a (ONNX PRelu, b the slope); SIMD tables compute kAdd..kMin and leave the rest to
// the reference.
enum BinaryOp : int { kAdd = 0, kSub, kMul, kDiv, kPow, kMax, kMin, kPRelu };

struct CpuInfo {
  // x86-64 (cpuid)
  bool avx2 = false, fma = false, f16c = false, sse42 = false;
  // aarch64 (getauxval): NEON (Advanced SIMD) is baseline there; CRC32 instructions, SDOT/UDOT (ARMv8.2
  // dotprod) and SMMLA/UMMLA (ARMv8.6 i8mm) are optional.
  bool neon = false, crc32 = false, dotprod = false, i8mm = false;
  // AVX-512 subsets, each true only when the OS also saves the opmask and zmm state (XCR0 bits 5-7).
  bool avx512f = false, avx512vl = false, avx512bw = false, avx512dq = false;
  bool avx512vnni = false;  // vpdpbusd (int8 dot products into int32)
  bool avx512vbmi = false;  // vpermb / vpermi2b (byte permutes)
};

const CpuInfo& cpu();
// The scalar reference. Its GEMM tile is the one of the SIMD table PYRT_KERNELS / the CPU selects.
const Table& reference();
// The reference table with t's GEMM tile (t's f32_gemm_ref twin): what t is tested against.
const Table& reference_for(const Table& t);
const Table& active();          // the table sessions use unless told otherwise

void force_reference(bool on);  // for debugging and tests; off = back to the SIMD table
void force_table(const Table* t);  // tests: use t (null: back to the PYRT_KERNELS / CPU choice)

// Every variant compiled for this target that this CPU (and OS) runs, best first, reference excluded: the
// native tests loop over it. simd_table() is its first entry (null when empty).
const std::vector<const Table*>& supported_tables();
const Table* simd_table();
// The variant of that name ("ref" gives reference()), or null when it is not compiled or not supported here.
const Table* table_by_name(const char* name);

// A GEMM microkernel and its tile. Packed panels fix one side of the tile (mr for A, nr for B; 0 = free):
// gemm_kernel_for() returns `preferred`'s kernel when its tile fits, else another kernel with a fitting tile
// (SIMD ones first unless `preferred` is a reference table; all are bit-identical), or fn = null if none.
struct GemmKernel {
  F32GemmUkernel fn;
  size_t mr, nr;
};
GemmKernel gemm_kernel_for(const Table& preferred, size_t mr, size_t nr);
size_t gemm_max_mr();  // the largest tile of any compiled table (workspace bounds)
size_t gemm_max_nr();

}  // namespace pyrt::kernels
