// Scalar reference for the attention kernels over a KV cache (see AttnScoresFn / AttnValuesFn).
#include "kernels/ref/ref.h"

namespace pyrt::kernels::ref {

void attn_scores(const float* q, const float* k, size_t ld, size_t n, size_t d, float scale, float* scores) {
  for (size_t j = 0; j < n; ++j) {
    const float* kj = k + j * ld;
    float s = 0.f;
    for (size_t i = 0; i < d; ++i) s += q[i] * kj[i];
    scores[j] = s * scale;
  }
}

void attn_values(const float* p, const float* v, size_t ld, size_t n, size_t d, float* out) {
  for (size_t i = 0; i < d; ++i) out[i] = 0.f;
  for (size_t j = 0; j < n; ++j) {
    const float* vj = v + j * ld;
    for (size_t i = 0; i < d; ++i) out[i] += p[j] * vj[i];
  }
}

}  // namespace pyrt::kernels::ref
