// f32 GEMM microkernel for NEON: 8x12 tile. 24 q-register accumulators (8 rows x 3 vectors of 4 columns),
// per k three B loads and two A loads (8 rows = 2 vectors), one FMLA by element (vfmaq_laneq_f32) per
// accumulator: 29 of the 32 vector registers. Templated on the row count so that edge tiles (mr < 8, e.g.
// batch-1 Linear) run only the FMAs they need; column edges (nr < 12) compute the zero-padded full width and
// load/store C and the column bias through a small buffer.
// Every C element is one fused multiply-add chain over k in order, then + row bias, + column bias, then the
// activation, as kernels/ref/f32-gemm-ref.cc does with std::fma: bit-identical to it.
#include <arm_neon.h>

#include <cstring>

#include "kernels/activation.h"
#include "kernels/arm/arm.h"

namespace pyrt::kernels::arm {
namespace {

constexpr int MR = 8, NR = 12;

// As ref::gemm_activate: comparisons and selects, so that NaN behaves as there (FMAX/FMIN would not).
inline float32x4_t activate(float32x4_t x, const GemmUkArgs& p) {
  const float32x4_t zero = vdupq_n_f32(0.f);
  switch (Act(p.act)) {
    case Act::kRelu:
      return vbslq_f32(vcgtq_f32(x, zero), x, zero);
    case Act::kClip: {
      const float32x4_t lo = vdupq_n_f32(p.p0), hi = vdupq_n_f32(p.p1);
      const float32x4_t y = vbslq_f32(vcgtq_f32(x, lo), x, lo);
      return vbslq_f32(vcltq_f32(y, hi), y, hi);
    }
    case Act::kLeakyRelu:
      return vbslq_f32(vcltq_f32(x, zero), vmulq_f32(x, vdupq_n_f32(p.p0)), x);
    default:
      return x;
  }
}

// Loads nr (< 12) floats as three vectors, zero filled past nr.
inline void load_partial(const float* src, size_t nr, float32x4_t v[3]) {
  float t[NR] = {};
  std::memcpy(t, src, nr * sizeof(float));
  v[0] = vld1q_f32(t);
  v[1] = vld1q_f32(t + 4);
  v[2] = vld1q_f32(t + 8);
}

template <int M>
void tile(size_t nr, size_t kc, const float* a, const float* b, float* c, size_t ldc, const GemmUkArgs& p) {
  float32x4_t acc[M][3];
  const bool full = nr == NR;

  if (p.flags & kGemmLoadC) {
#pragma GCC unroll 8
    for (int r = 0; r < M; ++r) {
      const float* cr = c + r * ldc;
      if (full) {
        acc[r][0] = vld1q_f32(cr);
        acc[r][1] = vld1q_f32(cr + 4);
        acc[r][2] = vld1q_f32(cr + 8);
      } else {
        load_partial(cr, nr, acc[r]);
      }
    }
  } else {
#pragma GCC unroll 8
    for (int r = 0; r < M; ++r) acc[r][0] = acc[r][1] = acc[r][2] = vdupq_n_f32(0.f);
  }

  // Row R of the tile takes lane L of A vector AV (rows 0-3: a0, rows 4-7: a1).
#define PYRT_ROW(R, AV, L)                                   \
  if constexpr (M > R) {                                     \
    acc[R][0] = vfmaq_laneq_f32(acc[R][0], b0, AV, L);       \
    acc[R][1] = vfmaq_laneq_f32(acc[R][1], b1, AV, L);       \
    acc[R][2] = vfmaq_laneq_f32(acc[R][2], b2, AV, L);       \
  }
  for (size_t k = 0; k < kc; ++k) {
    const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8);
    const float32x4_t a0 = vld1q_f32(a);
    PYRT_ROW(0, a0, 0)
    PYRT_ROW(1, a0, 1)
    PYRT_ROW(2, a0, 2)
    PYRT_ROW(3, a0, 3)
    if constexpr (M > 4) {
      const float32x4_t a1 = vld1q_f32(a + 4);
      PYRT_ROW(4, a1, 0)
      PYRT_ROW(5, a1, 1)
      PYRT_ROW(6, a1, 2)
      PYRT_ROW(7, a1, 3)
    }
    a += MR;
    b += NR;
  }
#undef PYRT_ROW

  if (p.flags & kGemmFinal) {
    if (p.bias_row) {
#pragma GCC unroll 8
      for (int r = 0; r < M; ++r) {
        const float32x4_t br = vdupq_n_f32(p.bias_row[r]);
        acc[r][0] = vaddq_f32(acc[r][0], br);
        acc[r][1] = vaddq_f32(acc[r][1], br);
        acc[r][2] = vaddq_f32(acc[r][2], br);
      }
    }
    if (p.bias_col) {
      float32x4_t bc[3];
      if (full) {
        bc[0] = vld1q_f32(p.bias_col);
        bc[1] = vld1q_f32(p.bias_col + 4);
        bc[2] = vld1q_f32(p.bias_col + 8);
      } else {
        load_partial(p.bias_col, nr, bc);
      }
#pragma GCC unroll 8
      for (int r = 0; r < M; ++r) {
        acc[r][0] = vaddq_f32(acc[r][0], bc[0]);
        acc[r][1] = vaddq_f32(acc[r][1], bc[1]);
        acc[r][2] = vaddq_f32(acc[r][2], bc[2]);
      }
    }
    if (p.act != uint8_t(Act::kNone)) {
#pragma GCC unroll 8
      for (int r = 0; r < M; ++r) {
        acc[r][0] = activate(acc[r][0], p);
        acc[r][1] = activate(acc[r][1], p);
        acc[r][2] = activate(acc[r][2], p);
      }
    }
  }

#pragma GCC unroll 8
  for (int r = 0; r < M; ++r) {
    float* cr = c + r * ldc;
    if (full) {
      vst1q_f32(cr, acc[r][0]);
      vst1q_f32(cr + 4, acc[r][1]);
      vst1q_f32(cr + 8, acc[r][2]);
    } else {
      float t[NR];
      vst1q_f32(t, acc[r][0]);
      vst1q_f32(t + 4, acc[r][1]);
      vst1q_f32(t + 8, acc[r][2]);
      std::memcpy(cr, t, nr * sizeof(float));
    }
  }
}

}  // namespace

void f32_gemm_8x12_neon(size_t mr, size_t nr, size_t kc, const float* a, const float* b, float* c, size_t ldc,
                        const GemmUkArgs& p) {
  switch (mr) {
    case 8: return tile<8>(nr, kc, a, b, c, ldc, p);
    case 7: return tile<7>(nr, kc, a, b, c, ldc, p);
    case 6: return tile<6>(nr, kc, a, b, c, ldc, p);
    case 5: return tile<5>(nr, kc, a, b, c, ldc, p);
    case 4: return tile<4>(nr, kc, a, b, c, ldc, p);
    case 3: return tile<3>(nr, kc, a, b, c, ldc, p);
    case 2: return tile<2>(nr, kc, a, b, c, ldc, p);
    default: return tile<1>(nr, kc, a, b, c, ldc, p);
  }
}

}  // namespace pyrt::kernels::arm
