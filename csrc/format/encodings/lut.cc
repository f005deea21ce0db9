// lut (SPEC §6.2): weight sharing, 4- or 8-bit indices into one codebook per tensor or per index along axis 0.
#include <cmath>

#include "base/error.h"
#include "base/scalar_codecs.h"
#include "format/encoding.h"

namespace pyrt::encodings {
namespace {

size_t parse(Cursor& c, TensorInfo& t, const std::string& where) {
  require_f32(t, "lut", where);
  TensorParams& p = t.p;
  p.index_bits = c.u8("lut params");
  p.scale_dtype = c.u8("lut params");  // the codebook's dtype
  p.codebook_size = c.u16("lut params");
  p.axis = c.i32("lut params");
  auto fail = [&](const std::string& m) { format_error(where + ": " + m); };
  if (p.index_bits != 4 && p.index_bits != 8) fail("lut index bits " + std::to_string(p.index_bits) + " is not 4 or 8");
  if (p.scale_dtype != spec::kScaleF32 && p.scale_dtype != spec::kScaleF16)
    fail("lut codebook dtype " + std::to_string(p.scale_dtype) + " is not 1 (f32) or 2 (f16)");
  if (p.codebook_size < 1 || p.codebook_size > (p.index_bits == 4 ? 16u : 256u))
    fail("lut codebook size " + std::to_string(p.codebook_size) + " out of range for " + std::to_string(p.index_bits) +
         "-bit indices");
  if (!(p.axis == -1 || (p.axis == 0 && !t.shape.empty())))
    fail("lut axis " + std::to_string(p.axis) + " must be -1 or 0 (rank >= 1)");
  return 2;
}

uint64_t books(const TensorInfo& t) { return t.p.axis == -1 ? 1 : t.shape[0]; }

std::vector<uint64_t> buffer_sizes(const TensorInfo& t) {
  const uint64_t n = t.numel;
  return {t.p.index_bits == 8 ? n : (n + 1) / 2, books(t) * t.p.codebook_size * scale_size(t.p.scale_dtype)};
}

uint64_t features(const TensorInfo& t) {
  return spec::kFeatLut | (t.p.scale_dtype == spec::kScaleF16 ? uint64_t(spec::kFeatF16) : 0);
}

uint32_t index_at(const TensorParams& p, const uint8_t* idx, uint64_t e) {
  return p.index_bits == 8 ? idx[e] : scalar::nibble(idx, e);
}

void check(const TensorData& d, const std::string& where) {
  const TensorParams& p = d.t.p;
  const uint8_t* idx = d.buf_or_null(0);
  for (uint64_t i = 0; i < d.t.numel; ++i) {
    const uint32_t v = index_at(p, idx, i);
    if (v >= p.codebook_size)
      format_error(where + ": lut index " + std::to_string(v) + " out of range (codebook size " +
                   std::to_string(p.codebook_size) + ")");
  }
  const size_t n = d.t.buffers[1].size / scale_size(p.scale_dtype);
  for (size_t i = 0; i < n; ++i)
    if (!std::isfinite(scale_at(d.buf(1), i, p.scale_dtype)))
      format_error(where + ": lut codebook entries must be finite");
}

void decode(const TensorData& d, const Codecs&, void* out_v) {
  const TensorInfo& t = d.t;
  const TensorParams& p = t.p;
  const uint64_t K = p.codebook_size, nbooks = books(t), per = t.numel / nbooks;
  std::vector<float> book(256, 0.f);  // every u8/u4 index lands inside, checked or not
  float* out = static_cast<float*>(out_v);
  for (uint64_t bk = 0; bk < nbooks; ++bk) {
    for (uint64_t k = 0; k < K; ++k) book[k] = scale_at(d.buf(1), bk * K + k, p.scale_dtype);
    for (uint64_t e = bk * per; e < (bk + 1) * per; ++e) out[e] = book[index_at(p, d.buf(0), e)];
  }
}

// Row r along axis 0 (numel / shape[0] floats): a weight requantized or looked up a row at a time.
void decode_row(const TensorData& d, const Codecs&, uint64_t r, float* out) {
  const TensorInfo& t = d.t;
  const TensorParams& p = t.p;
  const uint64_t cols = t.numel / t.shape[0], K = p.codebook_size, bk = p.axis == -1 ? 0 : r;
  float book[256] = {};  // every u8/u4 index lands inside, checked or not
  for (uint64_t k = 0; k < K; ++k) book[k] = scale_at(d.buf(1), bk * K + k, p.scale_dtype);
  for (uint64_t c = 0; c < cols; ++c) out[c] = book[index_at(p, d.buf(0), r * cols + c)];
}

uint64_t resident_bytes(const TensorInfo& t) { return t.numel * 4; }

std::vector<ParamField> params(const TensorParams& p) {
  return {{"index_bits", ParamField::kInt, p.index_bits, 0},
          {"codebook_dtype", ParamField::kInt, p.scale_dtype, 0},
          {"codebook_size", ParamField::kInt, p.codebook_size, 0},
          {"axis", ParamField::kInt, p.axis, 0}};
}

// Gather decodes the rows it needs; the lookup GEMM of Gemm, MatMul and 1x1 channels-last convolutions reads
// 4-bit codes as stored (ops/linear_lut.h). Other uses requantize the rows to int8 (never an f32 copy).
const char* const kInPlace[] = {"gather-rows", "qd8-gemm-lut4", nullptr};
}  // namespace

extern const EncodingTraits lut = {spec::kLut, "lut", parse, buffer_sizes, features, check, decode, decode_row,
                                   resident_bytes, params, kInPlace};

}  // namespace pyrt::encodings
