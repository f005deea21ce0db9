// The shared edges of the NEON u8 x s8 GEMM microkernels (16 columns, int32x4_t acc[R][4]): the column bias as
// initial accumulators and the requantization + store. `static` so that each translation unit, built with its
// own -march, keeps a private copy (see kernels/arm/i4_gemv_neon.h).
#pragma once
#include <arm_neon.h>

#include <cstring>
#include <type_traits>

#include "kernels/dispatch.h"

namespace pyrt::kernels::arm::qgemm_neon {

constexpr size_t kNR = 16;

// Fixed-size copies only for the last < 16 bytes: a memcpy call would make every live accumulator spill.
static inline void copy_tail(uint8_t* dst, const uint8_t* src, size_t n) {
  size_t o = 0;
  if (n & 8) std::memcpy(dst + o, src + o, 8), o += 8;
  if (n & 4) std::memcpy(dst + o, src + o, 4), o += 4;
  if (n & 2) std::memcpy(dst + o, src + o, 2), o += 2;
  if (n & 1) dst[o] = src[o];
}

// f(std::integral_constant<int, R>{}) for R = min(mr, 4): the row count as a template argument of the tile.
template <typename F>
static inline void rows(size_t mr, F&& f) {
  switch (mr < 4 ? mr : 4) {
    case 1: return f(std::integral_constant<int, 1>{});
    case 2: return f(std::integral_constant<int, 2>{});
    case 3: return f(std::integral_constant<int, 3>{});
    case 4: return f(std::integral_constant<int, 4>{});
    default: return;
  }
}

template <int R>
static inline void init(int32x4_t (&acc)[R][4], const int32_t* bias, size_t nr) {
  int32_t b[kNR] = {};
  std::memcpy(b, bias, nr * sizeof(int32_t));
  for (int r = 0; r < R; ++r)
    for (int i = 0; i < 4; ++i) acc[r][i] = vld1q_s32(b + 4 * i);
}

// y = zp + round_even(min(max(float(acc) * scale, lo), hi)); FCVTNS rounds to nearest even like round_even.
template <int R>
static inline void store(int32x4_t (&acc)[R][4], size_t nr, const float* scale, const QRequant& rq, void* c,
                         size_t ldc) {
  float s[kNR] = {};
  std::memcpy(s, scale, nr * sizeof(float));
  float32x4_t sv[4];
  for (int i = 0; i < 4; ++i) sv[i] = vld1q_f32(s + 4 * i);
  if (rq.f32_out) {  // float(acc) * scale, no clamp
    for (int r = 0; r < R; ++r) {
      float* cr = static_cast<float*>(c) + r * ldc;
      float t[kNR];
      for (int i = 0; i < 4; ++i) vst1q_f32(t + 4 * i, vmulq_f32(vcvtq_f32_s32(acc[r][i]), sv[i]));
      std::memcpy(cr, t, nr * sizeof(float));
    }
    return;
  }
  const float32x4_t lo = vdupq_n_f32(rq.lo), hi = vdupq_n_f32(rq.hi);
  const int32x4_t zp = vdupq_n_s32(rq.zp);
  for (int r = 0; r < R; ++r) {
    int32x4_t q[4];
    for (int i = 0; i < 4; ++i) {
      const float32x4_t v = vminq_f32(vmaxq_f32(vmulq_f32(vcvtq_f32_s32(acc[r][i]), sv[i]), lo), hi);
      q[i] = vaddq_s32(vcvtnq_s32_f32(v), zp);
    }
    const uint8x16_t u = vcombine_u8(vqmovun_s16(vcombine_s16(vqmovn_s32(q[0]), vqmovn_s32(q[1]))),
                                     vqmovun_s16(vcombine_s16(vqmovn_s32(q[2]), vqmovn_s32(q[3]))));
    uint8_t* cr = static_cast<uint8_t*>(c) + r * ldc;
    if (nr == kNR) {
      vst1q_u8(cr, u);
    } else {
      uint8_t t[kNR];
      vst1q_u8(t, u);
      std::memcpy(cr, t, nr);
    }
  }
}

}  // namespace pyrt::kernels::arm::qgemm_neon
