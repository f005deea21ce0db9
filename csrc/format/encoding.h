// One row of traits per encoding (SPEC §6.1): everything the format layer does that depends on the encoding
// (params, buffer sizes, feature bits, deferred checks, decoding, what a session keeps resident, inspection)
// goes through the tensor's row instead of a switch. An encoding is one file in csrc/format/encodings/ that
// defines its row, plus its line in encodings/registry.cc.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "format/codecs.h"
#include "format/cursor.h"
#include "format/model.h"
#include "format/spec.h"

namespace pyrt {

// A tensor's data in the mapping (reached only after its CRCs were checked).
struct TensorData {
  const TensorInfo& t;
  const uint8_t* base;
  const uint8_t* buf(size_t k) const { return base + t.buffers[k].offset; }
  const uint8_t* buf_or_null(size_t k) const { return t.buffers[k].size ? buf(k) : nullptr; }
};

// One entry of an encoding's parameters as inspection shows them (Python: Model.info()["tensors"][i]["params"]).
struct ParamField {
  enum Kind : uint8_t { kInt, kBool, kPair };
  const char* key;
  Kind kind;
  int64_t a, b;
};

struct EncodingTraits {
  uint8_t id;        // spec::Encoding
  const char* name;  // as SPEC §6.1 and pyruntime/format/spec.py spell it
  // Reads the params block (the cursor is at its start) into t.p and checks them against t's dtype and shape
  // (SPEC §6.2); returns the number of buffers.
  size_t (*parse)(Cursor& c, TensorInfo& t, const std::string& where);
  // Exact byte size of each buffer; UINT64_MAX where it depends on the data (then check() verifies it).
  std::vector<uint64_t> (*buffer_sizes)(const TensorInfo& t);
  // The required feature bits (SPEC §2.1) the tensor uses.
  uint64_t (*features)(const TensorInfo& t);
  // The deferred data checks (SPEC §6.4) other than the CRCs, which the caller has made.
  void (*check)(const TensorData& d, const std::string& where);
  // Decodes checked data to the logical dtype: out holds numel * dtype_size(t.dtype) bytes, numel > 0.
  void (*decode)(const TensorData& d, const Codecs& k, void* out);
  // Row r along axis 0 of a checked f32 tensor into out (numel / shape[0] floats: shape[1] for a matrix, a
  // convolution's Cin x kH x kW); null when the encoding is not read by rows.
  void (*decode_row)(const TensorData& d, const Codecs& k, uint64_t r, float* out);
  // Bytes a session holds for the tensor beyond the mapped file when it decodes it (0: used in place).
  uint64_t (*resident_bytes)(const TensorInfo& t);
  std::vector<ParamField> (*params)(const TensorParams& p);
  // The kernels that compute from the stored encoding, without an f32 copy of the tensor (null-terminated).
  // Ops pick them by testing the encoding; this list is what inspection reports.
  const char* const* in_place;
};

// The row of an encoding id; null when this reader does not know it.
const EncodingTraits* find_encoding(uint8_t id);
// Every known encoding, by id.
const std::vector<const EncodingTraits*>& all_encodings();

// ---- helpers shared by the encodings' files
template <typename T>
T load(const uint8_t* p, size_t i) {
  T v;
  std::memcpy(&v, p + i * sizeof(T), sizeof(T));
  return v;
}
// Element i of an f32 or f16 (spec::ScaleDType) array, as f32.
float scale_at(const uint8_t* p, size_t i, uint8_t scale_dtype);
inline uint64_t scale_size(uint8_t scale_dtype) { return scale_dtype == spec::kScaleF32 ? 4 : 2; }
// Each of n scales finite and > 0, else FormatError "<what> must be finite and > 0".
void check_positive(const uint8_t* p, size_t n, uint8_t scale_dtype, const std::string& what);
// Each of n scales finite (any sign, zero included), else FormatError "<what> must be finite".
void check_finite(const uint8_t* p, size_t n, uint8_t scale_dtype, const std::string& what);
void check_reserved(const uint8_t* b, size_t n, const std::string& where);
bool pow2_group(uint32_t g);
// The dtype and rank rules every non-dense encoding states: logical f32 (or i8 where allowed), rank >= 1.
void require_f32(const TensorInfo& t, const char* name, const std::string& where, bool or_i8 = false);
void require_rank1(const TensorInfo& t, const char* name, const std::string& where);

}  // namespace pyrt
