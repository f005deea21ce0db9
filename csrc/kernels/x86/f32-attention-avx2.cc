// AVX2+FMA attention kernels over a KV cache (see AttnScoresFn / AttnValuesFn in dispatch.h).
// Scores: four keys per pass share each load of q. Values: 32 output floats stay in four registers while the
// n cached rows stream past, so each value row is read once. The cache is f32, f16 (widened by F16C) or i8
// with row scales (widened; the scale applied per score, and folded into p for the values).
#include <immintrin.h>

#include <type_traits>

#include "kernels/x86/x86.h"

namespace pyrt::kernels::x86 {
namespace {

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
inline __m256 load8(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
inline float load1(const float* p) { return *p; }
inline float load1(const uint16_t* p) { return _cvtsh_ss(*p); }
inline __m256 load8(const int8_t* p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}
inline float load1(const int8_t* p) { return float(*p); }

// The i8 cache has a scale per row; the f32 and f16 loops compile without it.
template <typename T>
constexpr bool kRowScaled = std::is_same_v<T, int8_t>;

template <typename T>
void scores_t(const float* q, const T* k, const float* rs, size_t ld, size_t n, size_t d, float scale, float* scores) {
  // rs: the i8 cache's row scales (unused for f32 and f16), applied as the reference does: (sum * scale) * rs[j]
  auto fin = [&](float s, size_t j) {
    if constexpr (kRowScaled<T>) return s * scale * rs[j];
    else return s * scale;
  };
  const size_t d8 = d & ~size_t(7);
  size_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const T* k0 = k + j * ld;
    const T *k1 = k0 + ld, *k2 = k1 + ld, *k3 = k2 + ld;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i < d8; i += 8) {
      const __m256 qv = _mm256_loadu_ps(q + i);
      a0 = _mm256_fmadd_ps(qv, load8(k0 + i), a0);
      a1 = _mm256_fmadd_ps(qv, load8(k1 + i), a1);
      a2 = _mm256_fmadd_ps(qv, load8(k2 + i), a2);
      a3 = _mm256_fmadd_ps(qv, load8(k3 + i), a3);
    }
    float s0 = hsum(a0), s1 = hsum(a1), s2 = hsum(a2), s3 = hsum(a3);
    for (size_t i = d8; i < d; ++i) s0 += q[i] * load1(k0 + i), s1 += q[i] * load1(k1 + i), s2 += q[i] * load1(k2 + i), s3 += q[i] * load1(k3 + i);
    scores[j] = fin(s0, j), scores[j + 1] = fin(s1, j + 1), scores[j + 2] = fin(s2, j + 2), scores[j + 3] = fin(s3, j + 3);
  }
  for (; j < n; ++j) {
    const T* kj = k + j * ld;
    __m256 a = _mm256_setzero_ps();
    for (size_t i = 0; i < d8; i += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), load8(kj + i), a);
    float s = hsum(a);
    for (size_t i = d8; i < d; ++i) s += q[i] * load1(kj + i);
    scores[j] = fin(s, j);
  }
}

template <typename T>
void values_t(const float* p, const T* v, const float* rs, size_t ld, size_t n, size_t d, float* out) {
  auto pw = [&](size_t j) {  // rs: as in scores_t
    if constexpr (kRowScaled<T>) return p[j] * rs[j];
    else return p[j];
  };
  size_t i = 0;
  for (; i + 32 <= d; i += 32) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t j = 0; j < n; ++j) {
      const __m256 pj = _mm256_set1_ps(pw(j));
      const T* vj = v + j * ld + i;
      a0 = _mm256_fmadd_ps(pj, load8(vj), a0);
      a1 = _mm256_fmadd_ps(pj, load8(vj + 8), a1);
      a2 = _mm256_fmadd_ps(pj, load8(vj + 16), a2);
      a3 = _mm256_fmadd_ps(pj, load8(vj + 24), a3);
    }
    _mm256_storeu_ps(out + i, a0), _mm256_storeu_ps(out + i + 8, a1);
    _mm256_storeu_ps(out + i + 16, a2), _mm256_storeu_ps(out + i + 24, a3);
  }
  for (; i + 8 <= d; i += 8) {
    __m256 a = _mm256_setzero_ps();
    for (size_t j = 0; j < n; ++j) a = _mm256_fmadd_ps(_mm256_set1_ps(pw(j)), load8(v + j * ld + i), a);
    _mm256_storeu_ps(out + i, a);
  }
  for (; i < d; ++i) {
    float a = 0.f;
    for (size_t j = 0; j < n; ++j) a += pw(j) * load1(v + j * ld + i);
    out[i] = a;
  }
}

}  // namespace

void attn_scores_avx2(const float* q, const float* k, size_t ld, size_t n, size_t d, float scale, float* s) {
  scores_t(q, k, nullptr, ld, n, d, scale, s);
}
void attn_values_avx2(const float* p, const float* v, size_t ld, size_t n, size_t d, float* out) {
  values_t(p, v, nullptr, ld, n, d, out);
}
void attn_scores_f16_avx2(const float* q, const uint16_t* k, size_t ld, size_t n, size_t d, float scale, float* s) {
  scores_t(q, k, nullptr, ld, n, d, scale, s);
}
void attn_values_f16_avx2(const float* p, const uint16_t* v, size_t ld, size_t n, size_t d, float* out) {
  values_t(p, v, nullptr, ld, n, d, out);
}

void attn_scores_i8_avx2(const float* q, const int8_t* k, const float* k_scale, size_t ld, size_t n, size_t d,
                         float scale, float* s) {
  scores_t(q, k, k_scale, ld, n, d, scale, s);
}
void attn_values_i8_avx2(const float* p, const int8_t* v, const float* v_scale, size_t ld, size_t n, size_t d,
                         float* out) {
  values_t(p, v, v_scale, ld, n, d, out);
}

}  // namespace pyrt::kernels::x86
