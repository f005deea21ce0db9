// u8 x s8 GEMM with the ARMv8.2 dotprod extension: 4x16 tile, groups of 4 k's (KR = 4). SDOT multiplies signed
// bytes only, so A bytes are flipped to a - 128 (XOR 0x80) and the kernel's a_offset is 128 (qgemm::fold_bias
// adds 128 * sum_k B back into the bias); 4 x 4 bytes are exact in int32. 16 k's per step: each row's 16 A
// bytes are one load, and SDOT by lane g picks group g: 16 accumulators + 4 A + 4 B registers.
// Built with +dotprod; called only when the CPU has it.
#include <arm_neon.h>

#include <algorithm>

#include "kernels/arm/arm.h"
#include "kernels/arm/qgemm_neon.h"

namespace pyrt::kernels::arm {
namespace {

using namespace qgemm_neon;
constexpr size_t kKR = 4;  // tile: 4 rows (qgemm_neon::rows) x 16 columns

// Group G (4 k's) of a 16-k step: the group's 64 B bytes (4 columns x 4 k's a vector) against lane G of A.
template <int R, int G>
inline void group(int32x4_t (&acc)[R][4], const int8x16_t (&av)[R], const int8_t* b) {
  const int8_t* bg = b + kNR * kKR * G;
  const int8x16_t b0 = vld1q_s8(bg), b1 = vld1q_s8(bg + 16), b2 = vld1q_s8(bg + 32), b3 = vld1q_s8(bg + 48);
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
    acc[r][0] = vdotq_laneq_s32(acc[r][0], b0, av[r], G);
    acc[r][1] = vdotq_laneq_s32(acc[r][1], b1, av[r], G);
    acc[r][2] = vdotq_laneq_s32(acc[r][2], b2, av[r], G);
    acc[r][3] = vdotq_laneq_s32(acc[r][3], b3, av[r], G);
  }
}

template <int R>
void tile(size_t nr, size_t k, const uint8_t* a, size_t lda, const int8_t* b, const int32_t* bias,
          const float* scale, const QRequant& rq, void* c, size_t ldc) {
  int32x4_t acc[R][4];
  init<R>(acc, bias, nr);
  const uint8x16_t flip = vdupq_n_u8(0x80);
  int8x16_t av[R];
  size_t kk = 0;
  for (; kk + 16 <= k; kk += 16, b += 16 * kNR) {
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) av[r] = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(a + r * lda + kk), flip));
    group<R, 0>(acc, av, b), group<R, 1>(acc, av, b), group<R, 2>(acc, av, b), group<R, 3>(acc, av, b);
  }
  if (const size_t rem = k - kk) {  // 1-15 k's: ceil(rem / 4) groups are left in the panel (zero past k)
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      uint8_t t[16];
      std::memset(t, 0x80, 16);  // flips to 0
      copy_tail(t, a + r * lda + kk, rem);
      av[r] = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(t), flip));
    }
    group<R, 0>(acc, av, b);
    if (rem > 4) group<R, 1>(acc, av, b);
    if (rem > 8) group<R, 2>(acc, av, b);
    if (rem > 12) group<R, 3>(acc, av, b);
  }
  store<R>(acc, nr, scale, rq, c, ldc);
}

}  // namespace

void qgemm_4x16c4_neondot(size_t mr, size_t nr, size_t k, const uint8_t* a, size_t lda, const int8_t* b,
                          const int32_t* bias, const float* scale, const QRequant& rq, void* c, size_t ldc) {
  qgemm_neon::rows(mr, [&](auto r) { tile<decltype(r)::value>(nr, k, a, lda, b, bias, scale, rq, c, ldc); });
}

}  // namespace pyrt::kernels::arm
