// Sparse u8 x s8 product on AVX-512 VBMI + VNNI (kernels::SparseQ, layout group 16, block 128). The 128 bytes
// of an A row's column block sit in two registers; one vpermi2b picks for each of the 64 byte lanes the byte its
// step names (4 nonzeros of each of the group's 16 rows) and one vpdpbusd multiplies them by the weights and adds
// each row's 4 products into its int32 lane: 64 nonzeros in two instructions, where the f32 GEMV gathers 16
// floats. Up to 8 rows of A (pixels) share each step's loads.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/x86/x86.h"

// GCC 12 flags the _mm512_undefined_* inside its own conversion intrinsics (hundreds of false positives).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace pyrt::kernels::x86 {
namespace {

constexpr size_t kG = 16, kB = 128;
constexpr size_t kRows = 8;  // rows of A per pass over W: 16 table + 8 accumulator + 2 step registers

// bias + acc, requantized (or scaled to f32), into c[0..16) under `mask` (the group's rows that exist).
inline void store16(__m512i acc, const int32_t* bias, const float* scale, const QRequant& rq, void* c, size_t at,
                    __mmask16 mask) {
  const __m512i a = _mm512_add_epi32(acc, _mm512_maskz_loadu_epi32(mask, bias));
  const __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(a), _mm512_maskz_loadu_ps(mask, scale));
  if (rq.f32_out) return _mm512_mask_storeu_ps(static_cast<float*>(c) + at, mask, v);
  const __m512 cl = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(rq.lo)), _mm512_set1_ps(rq.hi));
  // vcvtps2dq rounds to nearest even (MXCSR default), as round_even; the result is in [0, 255]
  const __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(cl), _mm512_set1_epi32(rq.zp));
  _mm_mask_storeu_epi8(static_cast<uint8_t*>(c) + at, mask, _mm512_cvtepi32_epi8(q));
}

// R (<= kRows) rows of A (copied to xa, kp bytes apart, whole blocks) against the groups of rows [n0, n1).
template <int R>
void rows(const SparseQ& w, const uint8_t* xa, size_t kp, const int32_t* bias, const float* scale, const QRequant& rq,
          void* c, size_t ldc, size_t n0, size_t n1) {
  const size_t blocks = kp / kB, hdr = (blocks + 63) / 64 * 64;
  for (size_t n = n0; n < n1; n += kG) {
    uint32_t off;
    std::memcpy(&off, w.packed + 4 * (n / kG), 4);
    const uint8_t* steps = w.packed + off;
    const uint8_t* d = steps + hdr;
    // named accumulators: GCC keeps an array of vectors on the stack
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    for (size_t b = 0; b < blocks; ++b) {
      const size_t ns = steps[b];
      if (!ns) continue;
      const uint8_t* x = xa + b * kB;
      const __m512i l0 = _mm512_load_si512(x), h0 = _mm512_load_si512(x + 64);
      __m512i l1 = l0, h1 = h0, l2 = l0, h2 = h0, l3 = l0, h3 = h0, l4 = l0, h4 = h0, l5 = l0, h5 = h0, l6 = l0,
              h6 = h0, l7 = l0, h7 = h0;
#define PYRT_X(r) \
  if (R > r) l##r = _mm512_load_si512(x + r * kp), h##r = _mm512_load_si512(x + r * kp + 64);
      PYRT_X(1) PYRT_X(2) PYRT_X(3) PYRT_X(4) PYRT_X(5) PYRT_X(6) PYRT_X(7)
#undef PYRT_X
      for (size_t s = 0; s < ns; ++s, d += 8 * kG) {
        const __m512i idx = _mm512_load_si512(d), wv = _mm512_load_si512(d + 4 * kG);
#define PYRT_STEP(r) \
  if (R > r) a##r = _mm512_dpbusd_epi32(a##r, _mm512_permutex2var_epi8(l##r, idx, h##r), wv);
        PYRT_STEP(0) PYRT_STEP(1) PYRT_STEP(2) PYRT_STEP(3) PYRT_STEP(4) PYRT_STEP(5) PYRT_STEP(6) PYRT_STEP(7)
#undef PYRT_STEP
      }
    }
    const __mmask16 mask = n1 - n >= kG ? __mmask16(0xFFFF) : __mmask16((1u << (n1 - n)) - 1);
#define PYRT_STORE(r) \
  if (R > r) store16(a##r, bias + n, scale + n, rq, c, r * ldc + n, mask);
    PYRT_STORE(0) PYRT_STORE(1) PYRT_STORE(2) PYRT_STORE(3) PYRT_STORE(4) PYRT_STORE(5) PYRT_STORE(6) PYRT_STORE(7)
#undef PYRT_STORE
  }
}

}  // namespace

void sqgemm_avx512vbmi(const SparseQ& w, const uint8_t* a, size_t lda, size_t m, const int32_t* bias,
                       const float* scale, const QRequant& rq, void* c, size_t ldc, size_t n0, size_t n1) {
  const size_t kp = (w.cols + kB - 1) / kB * kB, esize = rq.f32_out ? 4 : 1;
  // A rows copied into whole, aligned blocks: the permutes read 128 bytes at a time (the bytes past K are never
  // picked by a nonzero, but must be readable).
  thread_local std::vector<uint8_t> buf;
  if (buf.size() < kRows * kp + 64) buf.assign(kRows * kp + 64, 0);
  uint8_t* xa = buf.data() + (64 - reinterpret_cast<uintptr_t>(buf.data()) % 64) % 64;
  for (size_t i = 0; i < m; i += kRows) {
    const size_t r = std::min(kRows, m - i);
    for (size_t j = 0; j < r; ++j) std::memcpy(xa + j * kp, a + (i + j) * lda, w.cols);
    void* ci = static_cast<uint8_t*>(c) + i * ldc * esize;
    switch (r) {
      case 8: rows<8>(w, xa, kp, bias, scale, rq, ci, ldc, n0, n1); break;
      case 7: rows<7>(w, xa, kp, bias, scale, rq, ci, ldc, n0, n1); break;
      case 6: rows<6>(w, xa, kp, bias, scale, rq, ci, ldc, n0, n1); break;
      case 5: rows<5>(w, xa, kp, bias, scale, rq, ci, ldc, n0, n1); break;
      case 4: rows<4>(w, xa, kp, bias, scale, rq, ci, ldc, n0, n1); break;
      case 3: rows<3>(w, xa, kp, bias, scale, rq, ci, ldc, n0, n1); break;
      case 2: rows<2>(w, xa, kp, bias, scale, rq, ci, ldc, n0, n1); break;
      default: rows<1>(w, xa, kp, bias, scale, rq, ci, ldc, n0, n1);
    }
  }
}

}  // namespace pyrt::kernels::x86
