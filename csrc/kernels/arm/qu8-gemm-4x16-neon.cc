// u8 x s8 GEMM for baseline ARMv8.0 NEON (no dotprod, e.g. Cortex-A53/A72): 4x16 tile, B panels of one k per
// 16 bytes (KR = 1). A bytes widen to int16 (u8 -> exact), B to int16 (s8 -> exact), and SMLAL/SMLAL2 by lane
// add int16 x int16 products into int32 exactly: 16 accumulators + 4 A + 2-3 B of the 32 vector registers.
// 8 k's per step so that each row's 8 A bytes are one load and one UXTL.
#include <arm_neon.h>

#include <algorithm>

#include "kernels/arm/arm.h"
#include "kernels/arm/qgemm_neon.h"

namespace pyrt::kernels::arm {
namespace {

using namespace qgemm_neon;
// tile: 4 rows (qgemm_neon::rows) x 16 columns

// k = T of an 8-k step: the 16 B bytes of that k against lane T of each row's widened A.
template <int R, int T>
inline void step(int32x4_t (&acc)[R][4], const int16x8_t (&av)[R], const int8_t* b) {
  const int8x16_t bv = vld1q_s8(b + kNR * T);
  const int16x8_t b0 = vmovl_s8(vget_low_s8(bv)), b1 = vmovl_high_s8(bv);
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
    acc[r][0] = vmlal_laneq_s16(acc[r][0], vget_low_s16(b0), av[r], T);
    acc[r][1] = vmlal_high_laneq_s16(acc[r][1], b0, av[r], T);
    acc[r][2] = vmlal_laneq_s16(acc[r][2], vget_low_s16(b1), av[r], T);
    acc[r][3] = vmlal_high_laneq_s16(acc[r][3], b1, av[r], T);
  }
}

template <int R>
void tile(size_t nr, size_t k, const uint8_t* a, size_t lda, const int8_t* b, const int32_t* bias,
          const float* scale, const QRequant& rq, void* c, size_t ldc) {
  int32x4_t acc[R][4];
  init<R>(acc, bias, nr);
  int16x8_t av[R];
  size_t kk = 0;
  for (; kk + 8 <= k; kk += 8, b += 8 * kNR) {
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) av[r] = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(a + r * lda + kk)));
    step<R, 0>(acc, av, b), step<R, 1>(acc, av, b), step<R, 2>(acc, av, b), step<R, 3>(acc, av, b);
    step<R, 4>(acc, av, b), step<R, 5>(acc, av, b), step<R, 6>(acc, av, b), step<R, 7>(acc, av, b);
  }
  if (const size_t rem = k - kk) {  // 1-7 k's: never read past a row, nor past the panel's k rows
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      uint8_t t[8] = {};
      copy_tail(t, a + r * lda + kk, rem);
      av[r] = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(t)));
    }
    step<R, 0>(acc, av, b);
    if (rem > 1) step<R, 1>(acc, av, b);
    if (rem > 2) step<R, 2>(acc, av, b);
    if (rem > 3) step<R, 3>(acc, av, b);
    if (rem > 4) step<R, 4>(acc, av, b);
    if (rem > 5) step<R, 5>(acc, av, b);
    if (rem > 6) step<R, 6>(acc, av, b);
  }
  store<R>(acc, nr, scale, rq, c, ldc);
}

}  // namespace

void qgemm_4x16_neon(size_t mr, size_t nr, size_t k, const uint8_t* a, size_t lda, const int8_t* b,
                     const int32_t* bias, const float* scale, const QRequant& rq, void* c, size_t ldc) {
  qgemm_neon::rows(mr, [&](auto r) { tile<decltype(r)::value>(nr, k, a, lda, b, bias, scale, rq, c, ldc); });
}

}  // namespace pyrt::kernels::arm
