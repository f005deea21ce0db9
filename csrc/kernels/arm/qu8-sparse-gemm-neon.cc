// Sparse u8 x s8 product on NEON (kernels::SparseQ, layout group 4, block 64). An A row's 64-byte column block
// is a 4-register table; one tbl picks the 16 bytes a step names (4 nonzeros of each of the group's 4 rows).
// u8 x s8 products fit int16 (255 * -128 = -32640), so they are multiplied as int16 and added pairwise into
// int32 (ARMv8.0: no dotprod needed).
#include <arm_neon.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/arm/arm.h"

namespace pyrt::kernels::arm {
namespace {
constexpr size_t kG = 4, kB = 64;
}

void sqgemm_neon(const SparseQ& w, const uint8_t* a, size_t lda, size_t m, const int32_t* bias, const float* scale,
                 const QRequant& rq, void* c, size_t ldc, size_t n0, size_t n1) {
  const size_t blocks = (w.cols + kB - 1) / kB, kp = blocks * kB, hdr = (blocks + 63) / 64 * 64;
  thread_local std::vector<uint8_t> buf;  // the A row in whole blocks (tbl reads 64 bytes at a time)
  if (buf.size() < kp) buf.assign(kp, 0);
  for (size_t i = 0; i < m; ++i) {
    std::memcpy(buf.data(), a + i * lda, w.cols);
    for (size_t n = n0; n < n1; n += kG) {
      uint32_t off;
      std::memcpy(&off, w.packed + 4 * (n / kG), 4);
      const uint8_t* steps = w.packed + off;
      const uint8_t* d = steps + hdr;
      int32x4_t a01 = vdupq_n_s32(0), a23 = a01;  // lanes: row 0, row 0, row 1, row 1 / rows 2, 3
      for (size_t b = 0; b < blocks; ++b) {
        const size_t ns = steps[b];
        if (!ns) continue;
        const uint8_t* x = buf.data() + b * kB;
        const uint8x16x4_t t = {{vld1q_u8(x), vld1q_u8(x + 16), vld1q_u8(x + 32), vld1q_u8(x + 48)}};
        for (size_t s = 0; s < ns; ++s, d += 8 * kG) {
          const uint8x16_t xv = vqtbl4q_u8(t, vld1q_u8(d));
          const int8x16_t wv = vld1q_s8(reinterpret_cast<const int8_t*>(d + 4 * kG));
          a01 = vpadalq_s16(a01, vmulq_s16(vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(xv))), vmovl_s8(vget_low_s8(wv))));
          a23 = vpadalq_s16(a23, vmulq_s16(vreinterpretq_s16_u16(vmovl_high_u8(xv)), vmovl_high_s8(wv)));
        }
      }
      int32_t acc[4];
      vst1q_s32(acc, vpaddq_s32(a01, a23));
      for (size_t j = 0; j < kG && n + j < n1; ++j) {
        const int32_t v = acc[j] + bias[n + j];
        if (rq.f32_out) static_cast<float*>(c)[i * ldc + n + j] = float(v) * scale[n + j];
        else static_cast<uint8_t*>(c)[i * ldc + n + j] = requant_one(v, scale[n + j], rq);
      }
    }
  }
}

}  // namespace pyrt::kernels::arm
