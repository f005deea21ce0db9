// csr (SPEC §6.2): compressed sparse rows of br x bc blocks over the matrix view; values f32, i8 with row
// scales, signed i4 with group scales, or s8 (the elements of a logical-i8 tensor as they are).
#include <algorithm>

#include "base/checked.h"
#include "base/error.h"
#include "base/scalar_codecs.h"
#include "format/encoding.h"

namespace pyrt::encodings {
namespace {
using std::to_string;

size_t parse(Cursor& c, TensorInfo& t, const std::string& where) {
  require_f32(t, "csr", where, /*or_i8=*/true);
  require_rank1(t, "csr", where);
  auto fail = [&](const std::string& m) { format_error(where + ": " + m); };
  TensorParams& p = t.p;
  p.index_width = c.u8("csr params");
  p.values = c.u8("csr params");
  p.br = c.u8("csr params");
  p.bc = c.u8("csr params");
  p.group_size = c.u32("csr params");
  p.nnzb = c.u64("csr params");
  auto block_ok = [](uint8_t b) { return b == 1 || b == 2 || b == 4 || b == 8; };
  if (p.index_width != 2 && p.index_width != 4) fail("csr index width " + to_string(p.index_width) + " is not 2 or 4");
  if (p.values < spec::kCsrF32 || p.values > spec::kCsrS8)
    fail("csr value encoding " + to_string(p.values) + " is unknown");
  if ((p.values == spec::kCsrS8) != (t.dtype == spec::kI8))
    fail("csr value encoding " + to_string(p.values) + " does not fit logical dtype " + spec::dtype_name(t.dtype) +
         " (s8 values for an i8 tensor, f32/i8/i4 for an f32 one)");
  if (!block_ok(p.br) || !block_ok(p.bc))
    fail("csr block " + to_string(p.br) + "x" + to_string(p.bc) + " is not made of 1, 2, 4 or 8");
  if (p.values == spec::kCsrI4) {
    if (!pow2_group(p.group_size))
      fail("csr i4 group size " + to_string(p.group_size) + " is not a power of two in [16, 65536]");
  } else if (p.group_size != 0) {
    fail("csr group size must be 0 unless values are i4");
  }
  const uint64_t brows = ceil_div(t.rows, p.br), bcols = ceil_div(t.cols, p.bc);
  if (brows >= 0xFFFFFFFFull) fail("csr has " + to_string(brows) + " block rows (cap 2^32-2)");
  if (p.index_width == 2 && bcols > 65536)
    fail("csr u16 column indices cannot address " + to_string(bcols) + " block columns");
  uint64_t grid;
  if (!mul_ok(brows, bcols, &grid) || p.nnzb > grid)
    fail("csr nnz " + to_string(p.nnzb) + " exceeds the " + to_string(brows) + "x" + to_string(bcols) +
         " block grid");
  return 3 + (p.values == spec::kCsrI8 || p.values == spec::kCsrI4);
}

std::vector<uint64_t> buffer_sizes(const TensorInfo& t) {
  const TensorParams& p = t.p;
  const uint64_t brows = ceil_div(t.rows, p.br);
  const uint64_t count = p.nnzb * p.br * p.bc;  // nnzb <= grid size <= 2^40
  std::vector<uint64_t> r = {4 * (brows + 1), p.index_width * p.nnzb};
  if (p.values == spec::kCsrF32) r.push_back(4 * count);
  else if (p.values == spec::kCsrS8) r.push_back(count);
  else if (p.values == spec::kCsrI8) r.insert(r.end(), {count, 4 * t.rows});
  else r.insert(r.end(), {(count + 1) / 2, UINT64_MAX});  // i4 scales: their count depends on row_ptr
  return r;
}

uint64_t features(const TensorInfo& t) {
  return spec::kFeatCsr | (t.p.values == spec::kCsrI4 ? uint64_t(spec::kFeatInt4) : 0);
}

uint64_t col_at(const TensorParams& p, const uint8_t* ci, uint64_t j) {
  return p.index_width == 2 ? load<uint16_t>(ci, j) : load<uint32_t>(ci, j);
}

// Number of i4 group scales: sum over block rows of ceil(nnz_i * br * bc / G).
uint64_t i4_groups(const TensorInfo& t, const uint8_t* rp, uint64_t brows) {
  uint64_t total = 0;
  const uint64_t per = uint64_t(t.p.br) * t.p.bc;
  for (uint64_t i = 0; i < brows; ++i)
    total += ceil_div((load<uint32_t>(rp, i + 1) - load<uint32_t>(rp, i)) * per, t.p.group_size);
  return total;
}

void check(const TensorData& d, const std::string& where) {
  const TensorInfo& t = d.t;
  const TensorParams& p = t.p;
  const uint64_t brows = ceil_div(t.rows, p.br), bcols = ceil_div(t.cols, p.bc);
  const uint8_t* rp = d.buf(0);
  const uint8_t* ci = d.buf_or_null(1);
  if (load<uint32_t>(rp, 0) != 0)
    format_error(where + ": csr row_ptr[0] is " + to_string(load<uint32_t>(rp, 0)) + ", must be 0");
  for (uint64_t i = 0; i < brows; ++i)
    if (load<uint32_t>(rp, i + 1) < load<uint32_t>(rp, i)) format_error(where + ": csr row pointers decrease");
  if (load<uint32_t>(rp, brows) != p.nnzb)
    format_error(where + ": csr nnz mismatch: row_ptr ends at " + to_string(load<uint32_t>(rp, brows)) +
                 ", params say " + to_string(p.nnzb));
  // Row pointers are now monotone and end at nnzb, so every j below indexes inside col_idx.
  for (uint64_t i = 0; i < brows; ++i) {
    const uint32_t a = load<uint32_t>(rp, i), b = load<uint32_t>(rp, i + 1);
    for (uint64_t j = a; j < b; ++j) {
      const uint64_t col = col_at(p, ci, j);
      if (col >= bcols)
        format_error(where + ": csr column index " + to_string(col) + " out of range (" + to_string(bcols) +
                     " block columns)");
      if (j > a && col <= col_at(p, ci, j - 1))
        format_error(where + ": csr column indices are not strictly increasing within a row");
    }
  }
  if (p.values == spec::kCsrI8) {
    check_positive(d.buf(3), t.rows, spec::kScaleF32, where + ": csr row scales");
  } else if (p.values == spec::kCsrI4) {
    const uint64_t ng = i4_groups(t, rp, brows);
    if (t.buffers[3].size != 4 * ng)
      format_error(where + " buffer 3: size " + to_string(t.buffers[3].size) + " does not match the " +
                   to_string(4 * ng) + " bytes of i4 group scales");
    check_positive(d.buf(3), ng, spec::kScaleF32, where + ": csr group scales");
  }
}

void decode(const TensorData& d, const Codecs&, void* out_v) {
  const TensorInfo& t = d.t;
  const TensorParams& p = t.p;
  std::memset(out_v, 0, t.numel * spec::dtype_size(t.dtype));
  float* out = static_cast<float*>(out_v);
  const uint64_t br = p.br, bc = p.bc, per = br * bc;
  const uint64_t brows = ceil_div(t.rows, br);
  const uint8_t* rp = d.buf(0);
  const uint8_t* ci = d.buf_or_null(1);
  const uint8_t* vals = d.buf_or_null(2);
  uint64_t group = 0;  // running i4 group index
  const uint64_t bcols = ceil_div(t.cols, bc), nscales = t.buffers.size() > 3 ? t.buffers[3].size / 4 : 0;
  for (uint64_t i = 0; i < brows; ++i) {
    // The data was checked; the clamps below keep the loops in bounds even if a mapped file is modified behind
    // our back after the check.
    const uint64_t a = std::min<uint64_t>(load<uint32_t>(rp, i), p.nnzb);
    const uint64_t b = std::min<uint64_t>(std::max<uint64_t>(load<uint32_t>(rp, i + 1), a), p.nnzb);
    for (uint64_t j = a; j < b; ++j) {
      const uint64_t col = col_at(p, ci, j);
      if (col >= bcols) continue;
      for (uint64_t e = 0; e < per; ++e) {
        const uint64_t r = i * br + e / bc, cc = col * bc + e % bc, k = j * per + e;
        if (r >= t.rows || cc >= t.cols) continue;  // edge-block padding
        if (p.values == spec::kCsrS8) {
          static_cast<int8_t*>(out_v)[r * t.cols + cc] = int8_t(vals[k]);
          continue;
        }
        float v;
        if (p.values == spec::kCsrF32) {
          v = load<float>(vals, k);
        } else if (p.values == spec::kCsrI8) {
          v = float(int8_t(vals[k])) * load<float>(d.buf(3), r);
        } else {
          const uint64_t pos = k - a * per;  // position in this block row's stream
          const int32_t q = int32_t(scalar::nibble(vals, k) ^ 8) - 8;
          const uint64_t gi = group + pos / p.group_size;
          v = gi < nscales ? float(q) * load<float>(d.buf(3), gi) : 0.f;
        }
        out[r * t.cols + cc] = v;
      }
    }
    if (p.values == spec::kCsrI4) group += ceil_div((b - a) * per, p.group_size);
  }
}

uint64_t resident_bytes(const TensorInfo& t) { return t.numel * spec::dtype_size(t.dtype); }

std::vector<ParamField> params(const TensorParams& p) {
  return {{"index_width", ParamField::kInt, p.index_width, 0},
          {"values", ParamField::kInt, p.values, 0},
          {"block", ParamField::kPair, p.br, p.bc},
          {"group_size", ParamField::kInt, p.group_size, 0},
          {"nnzb", ParamField::kInt, int64_t(p.nnzb), 0}};
}

// The sparse kernels compute on the stored nonzeros (repacked once per model into their rows, never made
// dense): Conv / Gemm / MatMul with f32 or i8 values, QLinearConv / QGemm with s8 ones.
const char* const kInPlace[] = {"spmm", "spmv", "sqgemm", nullptr};
}  // namespace

extern const EncodingTraits csr = {spec::kCsr, "csr", parse, buffer_sizes, features, check, decode, nullptr,
                                   resident_bytes, params, kInPlace};

}  // namespace pyrt::encodings
