// i8 (SPEC §6.2): int8 with one f32 scale (and optional i8 zero point) per tensor or per index along an axis.
#include "base/error.h"
#include "format/encoding.h"

namespace pyrt::encodings {
namespace {
using std::to_string;

size_t parse(Cursor& c, TensorInfo& t, const std::string& where) {
  require_f32(t, "i8", where);
  TensorParams& p = t.p;
  p.axis = c.i32("i8 params");
  const uint8_t hz = c.u8("i8 params");
  check_reserved(c.take(3, "i8 params"), 3, where);
  if (!(p.axis == -1 || (p.axis >= 0 && size_t(p.axis) < t.shape.size())))
    format_error(where + ": i8 axis " + to_string(p.axis) + " out of range for rank " + to_string(t.shape.size()));
  if (hz > 1) format_error(where + ": i8 has_zero_point must be 0 or 1, got " + to_string(hz));
  p.zero_point = hz;
  return 2 + hz;
}

std::vector<uint64_t> buffer_sizes(const TensorInfo& t) {
  const uint64_t ns = t.p.axis == -1 ? 1 : t.shape[size_t(t.p.axis)];
  std::vector<uint64_t> r = {t.numel, 4 * ns};
  if (t.p.zero_point) r.push_back(ns);
  return r;
}

uint64_t features(const TensorInfo&) { return 0; }

void check(const TensorData& d, const std::string& where) {
  check_positive(d.buf(1), d.t.buffers[1].size / 4, spec::kScaleF32, where + ": i8 scales");
}

void decode(const TensorData& d, const Codecs& k, void* out_v) {
  const TensorInfo& t = d.t;
  // Per axis: [outer, n, inner] with one (scale, zero point) per index along the axis.
  uint64_t outer = 1, n = 1, inner = 1;
  if (t.p.axis >= 0) {
    for (int a = 0; a < t.p.axis; ++a) outer *= t.shape[size_t(a)];
    n = t.shape[size_t(t.p.axis)];
    for (size_t a = size_t(t.p.axis) + 1; a < t.shape.size(); ++a) inner *= t.shape[a];
  } else {
    inner = t.numel;
  }
  const int8_t* q = reinterpret_cast<const int8_t*>(d.buf(0));
  const int8_t* zp = t.p.zero_point ? reinterpret_cast<const int8_t*>(d.buf(2)) : nullptr;
  float* out = static_cast<float*>(out_v);
  for (uint64_t o = 0; o < outer; ++o)
    for (uint64_t c = 0; c < n; ++c) {
      const uint64_t off = (o * n + c) * inner;
      k.dequant_i8(q + off, inner, zp ? zp[c] : 0, load<float>(d.buf(1), c), out + off);
    }
}

// As decode(): per tensor, per row (axis 0) or per column (axis 1).
void decode_row(const TensorData& d, const Codecs& k, uint64_t r, float* out) {
  const TensorParams& p = d.t.p;
  const uint64_t cols = d.t.shape[1];
  const int8_t* q = reinterpret_cast<const int8_t*>(d.buf(0)) + r * cols;
  const int8_t* zp = p.zero_point ? reinterpret_cast<const int8_t*>(d.buf(2)) : nullptr;
  if (p.axis == 1) {
    for (uint64_t c = 0; c < cols; ++c) k.dequant_i8(q + c, 1, zp ? zp[c] : 0, load<float>(d.buf(1), c), out + c);
  } else {
    const uint64_t i = p.axis == 0 ? r : 0;
    k.dequant_i8(q, cols, zp ? zp[i] : 0, load<float>(d.buf(1), i), out);
  }
}

uint64_t resident_bytes(const TensorInfo& t) { return t.numel * 4; }

std::vector<ParamField> params(const TensorParams& p) {
  return {{"axis", ParamField::kInt, p.axis, 0}, {"zero_point", ParamField::kBool, p.zero_point, 0}};
}

// Gather (embedding lookups) decodes the rows it needs: the f32 table is never made.
const char* const kInPlace[] = {"gather-rows", nullptr};
}  // namespace

extern const EncodingTraits i8 = {spec::kEncI8, "i8", parse, buffer_sizes, features, check, decode, decode_row,
                                  resident_bytes, params, kInPlace};

}  // namespace pyrt::encodings
