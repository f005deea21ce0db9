// i8g (SPEC §6.2): int8 in groups of G along the columns of the matrix view, each row padded to whole groups, one
// f32 or f16 scale per group. ggml's Q8_0 (32 values, an f16 scale) is exactly i8g with G = 32 and f16 scales.
#include <algorithm>

#include "base/checked.h"
#include "base/error.h"
#include "format/encoding.h"

namespace pyrt::encodings {
namespace {
using std::to_string;

size_t parse(Cursor& c, TensorInfo& t, const std::string& where) {
  require_f32(t, "i8g", where);
  require_rank1(t, "i8g", where);
  TensorParams& p = t.p;
  p.group_size = c.u32("i8g params");
  p.scale_dtype = c.u8("i8g params");
  check_reserved(c.take(3, "i8g params"), 3, where);
  if (!pow2_group(p.group_size))
    format_error(where + ": i8g group size " + to_string(p.group_size) + " is not a power of two in [16, 65536]");
  if (p.scale_dtype != spec::kScaleF32 && p.scale_dtype != spec::kScaleF16)
    format_error(where + ": i8g scale dtype " + to_string(p.scale_dtype) + " is not 1 (f32) or 2 (f16)");
  p.is_signed = true;
  return 2;
}

std::vector<uint64_t> buffer_sizes(const TensorInfo& t) {
  const uint64_t ng = ceil_div(t.cols, t.p.group_size);
  // rows * ng * G <= rows * (cols + G) <= 2^40 + rows * 2^16: no overflow.
  return {t.rows * ng * t.p.group_size, t.rows * ng * scale_size(t.p.scale_dtype)};
}

uint64_t features(const TensorInfo& t) {
  return spec::kFeatI8g | (t.p.scale_dtype == spec::kScaleF16 ? uint64_t(spec::kFeatF16) : 0);
}

void check(const TensorData& d, const std::string& where) {
  check_finite(d.buf(1), d.t.buffers[1].size / scale_size(d.t.p.scale_dtype), d.t.p.scale_dtype,
               where + ": i8g scales");
}

void decode_row(const TensorData& d, const Codecs& k, uint64_t r, float* out) {
  const TensorParams& p = d.t.p;
  const uint64_t G = p.group_size, cols = d.t.cols, ng = ceil_div(cols, G);
  const int8_t* q = reinterpret_cast<const int8_t*>(d.buf(0));
  for (uint64_t g = 0; g < ng; ++g) {
    const uint64_t gi = r * ng + g, c0 = g * G;
    k.dequant_i8(q + gi * G, std::min<uint64_t>(G, cols - c0), 0, scale_at(d.buf(1), gi, p.scale_dtype), out + c0);
  }
}

void decode(const TensorData& d, const Codecs& k, void* out) {
  for (uint64_t r = 0; r < d.t.rows; ++r) decode_row(d, k, r, static_cast<float*>(out) + r * d.t.cols);
}

uint64_t resident_bytes(const TensorInfo& t) { return t.numel * 4; }

std::vector<ParamField> params(const TensorParams& p) {
  return {{"group_size", ParamField::kInt, p.group_size, 0}, {"scale_dtype", ParamField::kInt, p.scale_dtype, 0}};
}

// Gather decodes the rows it needs; Gemm / MatMul / convolutions requantize the rows to int8 panels at load
// (Int8Linear::init_requantized): no f32 copy either way.
const char* const kInPlace[] = {"gather-rows", "qd8-gemm-i8w-requantized", nullptr};
}  // namespace

extern const EncodingTraits i8g = {spec::kEncI8g, "i8g", parse, buffer_sizes, features, check, decode, decode_row,
                                   resident_bytes, params, kInPlace};

}  // namespace pyrt::encodings
