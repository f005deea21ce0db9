// i4 (SPEC §6.2): signed or unsigned nibbles in groups of G along the columns of the matrix view, each row
// padded to whole groups, one f32 or f16 scale (and u8 zero point when unsigned) per group.
#include <algorithm>

#include "base/checked.h"
#include "base/error.h"
#include "format/encoding.h"

namespace pyrt::encodings {
namespace {
using std::to_string;

size_t parse(Cursor& c, TensorInfo& t, const std::string& where) {
  require_f32(t, "i4", where);
  require_rank1(t, "i4", where);
  TensorParams& p = t.p;
  p.group_size = c.u32("i4 params");
  const uint8_t sg = c.u8("i4 params");
  p.scale_dtype = c.u8("i4 params");
  check_reserved(c.take(2, "i4 params"), 2, where);
  if (!pow2_group(p.group_size))
    format_error(where + ": i4 group size " + to_string(p.group_size) + " is not a power of two in [16, 65536]");
  if (sg > 1) format_error(where + ": i4 signed flag must be 0 or 1, got " + to_string(sg));
  if (p.scale_dtype != spec::kScaleF32 && p.scale_dtype != spec::kScaleF16)
    format_error(where + ": i4 scale dtype " + to_string(p.scale_dtype) + " is not 1 (f32) or 2 (f16)");
  p.is_signed = sg;
  return 2 + (1 - sg);
}

std::vector<uint64_t> buffer_sizes(const TensorInfo& t) {
  const uint64_t ng = ceil_div(t.cols, t.p.group_size);
  // rows * ng * G <= rows * (cols + G) <= 2^40 + rows * 2^16: no overflow.
  std::vector<uint64_t> r = {t.rows * ng * t.p.group_size / 2, t.rows * ng * scale_size(t.p.scale_dtype)};
  if (!t.p.is_signed) r.push_back(t.rows * ng);
  return r;
}

uint64_t features(const TensorInfo& t) {
  return spec::kFeatInt4 | (t.p.scale_dtype == spec::kScaleF16 ? uint64_t(spec::kFeatF16) : 0);
}

void check(const TensorData& d, const std::string& where) {
  const TensorParams& p = d.t.p;
  // Any finite scale: ggml's Q4_0 blocks (pyruntime/convert/gguf.py) carry negative and zero ones, and a kernel
  // only multiplies by it.
  check_finite(d.buf(1), d.t.buffers[1].size / scale_size(p.scale_dtype), p.scale_dtype, where + ": i4 scales");
  if (!p.is_signed)
    for (uint64_t i = 0; i < d.t.buffers[2].size; ++i)
      if (d.buf(2)[i] > 15) format_error(where + ": i4 zero points must be <= 15");
}

// Row r of the matrix view (t.cols floats). tmp takes the last group of the row when it is padded in the file
// but not in the output.
void row(const TensorData& d, const Codecs& k, uint64_t r, float* out, std::vector<float>& tmp) {
  const TensorParams& p = d.t.p;
  const uint64_t G = p.group_size, cols = d.t.cols, ng = ceil_div(cols, G);
  for (uint64_t g = 0; g < ng; ++g) {
    const uint64_t gi = r * ng + g, c0 = g * G, n = std::min<uint64_t>(G, cols - c0);
    const int32_t zp = p.is_signed ? 0 : d.buf(2)[gi];
    const float s = scale_at(d.buf(1), gi, p.scale_dtype);
    if (n == G) {
      k.dequant_i4(d.buf(0) + gi * G / 2, G, p.is_signed, zp, s, out + c0);
    } else {
      tmp.resize(G);
      k.dequant_i4(d.buf(0) + gi * G / 2, G, p.is_signed, zp, s, tmp.data());
      std::memcpy(out + c0, tmp.data(), n * 4);
    }
  }
}

void decode(const TensorData& d, const Codecs& k, void* out) {
  std::vector<float> tmp;
  for (uint64_t r = 0; r < d.t.rows; ++r) row(d, k, r, static_cast<float*>(out) + r * d.t.cols, tmp);
}

// 2-D: rows of the matrix view are the tensor's rows.
void decode_row(const TensorData& d, const Codecs& k, uint64_t r, float* out) {
  std::vector<float> tmp;
  row(d, k, r, out, tmp);
}

uint64_t resident_bytes(const TensorInfo& t) { return t.numel * 4; }

std::vector<ParamField> params(const TensorParams& p) {
  return {{"group_size", ParamField::kInt, p.group_size, 0},
          {"signed", ParamField::kBool, p.is_signed, 0},
          {"scale_dtype", ParamField::kInt, p.scale_dtype, 0}};
}

// The int4 x int8 GEMV and GEMM of Gemm / MatMul and 1x1 channels-last convolutions (signed weights), and
// Gather's row decode.
const char* const kInPlace[] = {"gemv-i4", "gemm-i4", "gather-rows", nullptr};
}  // namespace

extern const EncodingTraits i4 = {spec::kEncI4, "i4", parse, buffer_sizes, features, check, decode, decode_row,
                                  resident_bytes, params, kInPlace};

}  // namespace pyrt::encodings
