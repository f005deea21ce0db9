// dense (SPEC §6.2): the logical dtype as it is, or f32 stored as f16.
#include "base/error.h"
#include "format/encoding.h"

namespace pyrt::encodings {
namespace {
using std::to_string;

size_t parse(Cursor& c, TensorInfo& t, const std::string& where) {
  TensorParams& p = t.p;
  p.storage = c.u8("dense params");
  check_reserved(c.take(7, "dense params"), 7, where);
  if (!spec::valid_dtype(p.storage)) format_error(where + ": unknown storage dtype " + to_string(p.storage));
  if (p.storage != t.dtype && !(t.dtype == spec::kF32 && p.storage == spec::kF16))
    format_error(where + ": storage dtype " + spec::dtype_name(p.storage) + " cannot hold logical dtype " +
                 spec::dtype_name(t.dtype));
  return 1;
}

std::vector<uint64_t> buffer_sizes(const TensorInfo& t) { return {t.numel * spec::dtype_size(t.p.storage)}; }

uint64_t features(const TensorInfo& t) { return t.p.storage == spec::kF16 ? uint64_t(spec::kFeatF16) : 0; }

void check(const TensorData& d, const std::string& where) {
  if (d.t.p.storage != spec::kBool) return;
  for (uint64_t i = 0; i < d.t.numel; ++i)
    if (d.buf(0)[i] > 1) format_error(where + ": bool bytes must be 0 or 1");
}

void decode(const TensorData& d, const Codecs& k, void* out) {
  if (d.t.p.storage == d.t.dtype) std::memcpy(out, d.buf(0), d.t.buffers[0].size);
  // f32 stored as f16; the buffer is 64-byte aligned, so the u16 view is aligned
  else k.f16_to_f32(reinterpret_cast<const uint16_t*>(d.buf(0)), static_cast<float*>(out), d.t.numel);
}

void decode_row(const TensorData& d, const Codecs& k, uint64_t r, float* out) {
  const uint64_t cols = d.t.shape[1];
  if (d.t.p.storage == d.t.dtype) std::memcpy(out, d.buf(0) + r * cols * 4, cols * 4);
  else k.f16_to_f32(reinterpret_cast<const uint16_t*>(d.buf(0)) + r * cols, out, cols);
}

uint64_t resident_bytes(const TensorInfo& t) {
  return t.p.storage == t.dtype ? 0 : t.numel * spec::dtype_size(t.dtype);
}

std::vector<ParamField> params(const TensorParams& p) { return {{"storage", ParamField::kInt, p.storage, 0}}; }

// Stored in its logical dtype, the mapped buffer is the tensor: every kernel reads it (no copy).
const char* const kInPlace[] = {"any", nullptr};
}  // namespace

extern const EncodingTraits dense = {spec::kDense, "dense", parse, buffer_sizes, features, check, decode, decode_row,
                                     resident_bytes, params, kInPlace};

}  // namespace pyrt::encodings
