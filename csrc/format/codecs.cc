#include "format/codecs.h"

#include <atomic>

#include "base/scalar_codecs.h"
#include "format/crc32c.h"

namespace pyrt {
namespace {
void f16_to_f32(const uint16_t* in, float* out, size_t n) { scalar::f16_to_f32(in, out, n); }
const Codecs kScalar = {scalar::crc32c_update, f16_to_f32, scalar::dequant_i8, scalar::dequant_i4};
std::atomic<const Codecs*> g_codecs{nullptr};
}  // namespace

const Codecs& scalar_codecs() { return kScalar; }
const Codecs& codecs() {
  const Codecs* c = g_codecs.load(std::memory_order_acquire);
  return c ? *c : kScalar;
}
void set_codecs(const Codecs* c) { g_codecs.store(c, std::memory_order_release); }

uint32_t crc32c(const void* data, size_t n) {
  return ~codecs().crc32c_update(0xFFFFFFFFu, static_cast<const uint8_t*>(data), n);
}
}  // namespace pyrt
