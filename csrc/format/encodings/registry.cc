// The table of encodings, and the helpers their files share.
#include <cmath>

#include "base/error.h"
#include "base/scalar_codecs.h"
#include "format/encoding.h"
#include "format/spec.h"

namespace pyrt {

namespace encodings {
extern const EncodingTraits dense, i8, i4, csr, lut, i8g;
}  // namespace encodings

const std::vector<const EncodingTraits*>& all_encodings() {
  static const std::vector<const EncodingTraits*> table = {&encodings::dense, &encodings::i8, &encodings::i4,
                                                           &encodings::csr, &encodings::lut, &encodings::i8g};
  return table;
}

const EncodingTraits* find_encoding(uint8_t id) {
  for (const EncodingTraits* e : all_encodings())
    if (e->id == id) return e;
  return nullptr;
}

namespace spec {
const char* encoding_name(uint8_t e) {
  const EncodingTraits* t = find_encoding(e);
  return t ? t->name : "?";
}
}  // namespace spec

float scale_at(const uint8_t* p, size_t i, uint8_t sd) {
  return sd == spec::kScaleF32 ? load<float>(p, i) : scalar::f16_to_f32(load<uint16_t>(p, i));
}

void check_positive(const uint8_t* p, size_t n, uint8_t sd, const std::string& what) {
  for (size_t i = 0; i < n; ++i) {
    const float s = scale_at(p, i, sd);
    if (!(std::isfinite(s) && s > 0)) format_error(what + " must be finite and > 0");
  }
}

void check_finite(const uint8_t* p, size_t n, uint8_t sd, const std::string& what) {
  for (size_t i = 0; i < n; ++i)
    if (!std::isfinite(scale_at(p, i, sd))) format_error(what + " must be finite");
}

void check_reserved(const uint8_t* b, size_t n, const std::string& where) {
  for (size_t i = 0; i < n; ++i)
    if (b[i]) format_error(where + ": reserved params bytes are not zero");
}

bool pow2_group(uint32_t g) { return g >= spec::kMinGroup && g <= spec::kMaxGroup && !(g & (g - 1)); }

void require_f32(const TensorInfo& t, const char* name, const std::string& where, bool or_i8) {
  if (t.dtype != spec::kF32 && !(or_i8 && t.dtype == spec::kI8))
    format_error(where + ": encoding " + name + " needs logical dtype f32, got " + spec::dtype_name(t.dtype));
}

void require_rank1(const TensorInfo& t, const char* name, const std::string& where) {
  if (t.shape.empty()) format_error(where + ": encoding " + name + " needs rank >= 1");
}

}  // namespace pyrt
