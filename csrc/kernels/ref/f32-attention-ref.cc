// Scalar reference for the attention kernels over a KV cache (see AttnScoresFn / AttnValuesFn), with the cache
// in f32, in f16, or in i8 with a scale per cached row.
#include "kernels/ref/ref.h"

namespace pyrt::kernels::ref {
namespace {

inline float load(const float* p) { return *p; }
inline float load(const uint16_t* p) { return f16_to_f32_one(*p); }
inline float load(const int8_t* p) { return float(*p); }

// rs: the i8 cache's row scales (null for f32 and f16)
template <typename T>
void scores(const float* q, const T* k, const float* rs, size_t ld, size_t n, size_t d, float scale, float* out) {
  for (size_t j = 0; j < n; ++j) {
    const T* kj = k + j * ld;
    float s = 0.f;
    for (size_t i = 0; i < d; ++i) s += q[i] * load(kj + i);
    out[j] = rs ? s * scale * rs[j] : s * scale;
  }
}

template <typename T>
void values(const float* p, const T* v, const float* rs, size_t ld, size_t n, size_t d, float* out) {
  for (size_t i = 0; i < d; ++i) out[i] = 0.f;
  for (size_t j = 0; j < n; ++j) {
    const T* vj = v + j * ld;
    const float pj = rs ? p[j] * rs[j] : p[j];
    for (size_t i = 0; i < d; ++i) out[i] += pj * load(vj + i);
  }
}

}  // namespace

void attn_scores(const float* q, const float* k, size_t ld, size_t n, size_t d, float scale, float* s) {
  scores(q, k, nullptr, ld, n, d, scale, s);
}
void attn_values(const float* p, const float* v, size_t ld, size_t n, size_t d, float* out) {
  values(p, v, nullptr, ld, n, d, out);
}
void attn_scores_f16(const float* q, const uint16_t* k, size_t ld, size_t n, size_t d, float scale, float* s) {
  scores(q, k, nullptr, ld, n, d, scale, s);
}
void attn_values_f16(const float* p, const uint16_t* v, size_t ld, size_t n, size_t d, float* out) {
  values(p, v, nullptr, ld, n, d, out);
}
void attn_scores_i8(const float* q, const int8_t* k, const float* k_scale, size_t ld, size_t n, size_t d, float scale,
                    float* s) {
  scores(q, k, k_scale, ld, n, d, scale, s);
}
void attn_values_i8(const float* p, const int8_t* v, const float* v_scale, size_t ld, size_t n, size_t d, float* out) {
  values(p, v, v_scale, ld, n, d, out);
}

}  // namespace pyrt::kernels::ref
