// NEON attention kernels over a KV cache (see AttnScoresFn / AttnValuesFn in dispatch.h); the same shape as
// the AVX2 ones: four keys per pass share q's loads; 16 output floats stay in registers while values stream.
// The cache is f32, f16 (widened by FCVTL) or i8 with row scales (widened; see the AVX2 file).
#include <arm_neon.h>

#include <cstring>
#include <type_traits>

#include "kernels/arm/arm.h"

namespace pyrt::kernels::arm {
namespace {

inline float32x4_t load4(const float* p) { return vld1q_f32(p); }
inline float32x4_t load4(const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
inline float load1(const float* p) { return *p; }
inline float load1(const uint16_t* p) { return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vld1_dup_u16(p))), 0); }
inline float32x4_t load4(const int8_t* p) {  // exactly 4 bytes (a row's end may be the cache's end)
  int32_t w;
  std::memcpy(&w, p, 4);
  return vcvtq_f32_s32(vmovl_s16(vget_low_s16(vmovl_s8(vreinterpret_s8_s32(vdup_n_s32(w))))));
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
  const size_t d4 = d & ~size_t(3);
  size_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const T* k0 = k + j * ld;
    const T *k1 = k0 + ld, *k2 = k1 + ld, *k3 = k2 + ld;
    float32x4_t a0 = vdupq_n_f32(0.f), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i < d4; i += 4) {
      const float32x4_t qv = vld1q_f32(q + i);
      a0 = vfmaq_f32(a0, qv, load4(k0 + i));
      a1 = vfmaq_f32(a1, qv, load4(k1 + i));
      a2 = vfmaq_f32(a2, qv, load4(k2 + i));
      a3 = vfmaq_f32(a3, qv, load4(k3 + i));
    }
    float s0 = vaddvq_f32(a0), s1 = vaddvq_f32(a1), s2 = vaddvq_f32(a2), s3 = vaddvq_f32(a3);
    for (size_t i = d4; i < d; ++i) s0 += q[i] * load1(k0 + i), s1 += q[i] * load1(k1 + i), s2 += q[i] * load1(k2 + i), s3 += q[i] * load1(k3 + i);
    scores[j] = fin(s0, j), scores[j + 1] = fin(s1, j + 1), scores[j + 2] = fin(s2, j + 2), scores[j + 3] = fin(s3, j + 3);
  }
  for (; j < n; ++j) {
    const T* kj = k + j * ld;
    float32x4_t a = vdupq_n_f32(0.f);
    for (size_t i = 0; i < d4; i += 4) a = vfmaq_f32(a, vld1q_f32(q + i), load4(kj + i));
    float s = vaddvq_f32(a);
    for (size_t i = d4; i < d; ++i) s += q[i] * load1(kj + i);
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
  for (; i + 16 <= d; i += 16) {
    float32x4_t a0 = vdupq_n_f32(0.f), a1 = a0, a2 = a0, a3 = a0;
    for (size_t j = 0; j < n; ++j) {
      const T* vj = v + j * ld + i;
      const float pj = pw(j);
      a0 = vfmaq_n_f32(a0, load4(vj), pj);
      a1 = vfmaq_n_f32(a1, load4(vj + 4), pj);
      a2 = vfmaq_n_f32(a2, load4(vj + 8), pj);
      a3 = vfmaq_n_f32(a3, load4(vj + 12), pj);
    }
    vst1q_f32(out + i, a0), vst1q_f32(out + i + 4, a1), vst1q_f32(out + i + 8, a2), vst1q_f32(out + i + 12, a3);
  }
  for (; i + 4 <= d; i += 4) {
    float32x4_t a = vdupq_n_f32(0.f);
    for (size_t j = 0; j < n; ++j) a = vfmaq_n_f32(a, load4(v + j * ld + i), pw(j));
    vst1q_f32(out + i, a);
  }
  for (; i < d; ++i) {
    float a = 0.f;
    for (size_t j = 0; j < n; ++j) a += pw(j) * load1(v + j * ld + i);
    out[i] = a;
  }
}

}  // namespace

void attn_scores_neon(const float* q, const float* k, size_t ld, size_t n, size_t d, float scale, float* s) {
  scores_t(q, k, nullptr, ld, n, d, scale, s);
}
void attn_values_neon(const float* p, const float* v, size_t ld, size_t n, size_t d, float* out) {
  values_t(p, v, nullptr, ld, n, d, out);
}
void attn_scores_f16_neon(const float* q, const uint16_t* k, size_t ld, size_t n, size_t d, float scale, float* s) {
  scores_t(q, k, nullptr, ld, n, d, scale, s);
}
void attn_values_f16_neon(const float* p, const uint16_t* v, size_t ld, size_t n, size_t d, float* out) {
  values_t(p, v, nullptr, ld, n, d, out);
}

void attn_scores_i8_neon(const float* q, const int8_t* k, const float* k_scale, size_t ld, size_t n, size_t d,
                         float scale, float* s) {
  scores_t(q, k, k_scale, ld, n, d, scale, s);
}
void attn_values_i8_neon(const float* p, const int8_t* v, const float* v_scale, size_t ld, size_t n, size_t d,
                         float* out) {
  values_t(p, v, v_scale, ld, n, d, out);
}

}  // namespace pyrt::kernels::arm
