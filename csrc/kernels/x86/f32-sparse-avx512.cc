// Sparse kernels, AVX-512. spmm: tiles of 32 pixels, each nonzero weight broadcast against its input row's 32
// pixels (XNNPACK's f32-spmm idea), four output channels in lockstep; pixel tails with masks.
// spmv: on its packed layout, 16 rows a step with x picked by byte permutes (else 16 nonzeros of a row a step,
// x gathered by column).
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/ref/ref.h"
#include "kernels/x86/x86.h"

namespace pyrt::kernels::x86 {
namespace {

inline __m512 activate(__m512 v, const ActParams& a) {
  if (a.act == Act::kRelu) return _mm512_max_ps(v, _mm512_setzero_ps());
  if (a.act == Act::kClip) return _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(a.p0)), _mm512_set1_ps(a.p1));
  return v;
}

// 32 pixels from p (the second vector masked by `last`) of output channels [o0, o1): four channels at a time
// walk their nonzero lists in lockstep (8 independent FMA chains cover the FMA latency while the 32-pixel
// input tile stays in L1), each channel's chain still in its own order, then each finishes alone.
// Full: all 32 pixels (plain loads; masked ones issue at half the rate on some cores).
template <bool Full, class I>
inline void tile32(const SparseRows& m, const I* col, const float* bias, const ActParams& act, const float* xp,
                   float* y, size_t y_stride, size_t p, __mmask16 m0, __mmask16 m1) {
  auto load = [&](const float* r, int v) {
    if (Full) return _mm512_load_ps(r + 16 * v);  // the packed tile: 64-byte aligned rows
    return v == 0 ? _mm512_maskz_loadu_ps(m0, r) : _mm512_maskz_loadu_ps(m1, r + 16);
  };
  auto store = [&](size_t o, __m512 a0, __m512 a1) {
    float* yr = y + o * y_stride + p;
    if (Full) {
      _mm512_storeu_ps(yr, activate(a0, act));
      _mm512_storeu_ps(yr + 16, activate(a1, act));
    } else {
      _mm512_mask_storeu_ps(yr, m0, activate(a0, act));
      _mm512_mask_storeu_ps(yr + 16, m1, activate(a1, act));
    }
  };
  // Named accumulators (GCC keeps an array of them on the stack, storing after every FMA).
  // Rows in m.order when given (similar lengths side by side: less of each row runs alone after the lockstep).
  auto row = [&](size_t i) -> size_t { return m.order ? m.order[i] : i; };
  size_t i = 0;
  for (; i + 4 <= m.rows; i += 4) {
    const size_t r0 = row(i), r1 = row(i + 1), r2 = row(i + 2), r3 = row(i + 3);
    const uint32_t k0 = m.start[r0], k1 = m.start[r1], k2 = m.start[r2], k3 = m.start[r3];
    const uint32_t e0 = m.start[r0 + 1], e1 = m.start[r1 + 1], e2 = m.start[r2 + 1], e3 = m.start[r3 + 1];
    const uint32_t n = std::min(std::min(e0 - k0, e1 - k1), std::min(e2 - k2, e3 - k3));
    __m512 a00 = _mm512_set1_ps(bias ? bias[r0] : 0.f), a01 = a00;
    __m512 a10 = _mm512_set1_ps(bias ? bias[r1] : 0.f), a11 = a10;
    __m512 a20 = _mm512_set1_ps(bias ? bias[r2] : 0.f), a21 = a20;
    __m512 a30 = _mm512_set1_ps(bias ? bias[r3] : 0.f), a31 = a30;
#define PYRT_SPMM_STEP(ka, A0, A1)                       \
  {                                                      \
    const __m512 w = _mm512_set1_ps(m.w[ka]);            \
    const float* xr = xp + size_t(col[ka]) * 32;         \
    A0 = _mm512_fmadd_ps(w, load(xr, 0), A0);            \
    A1 = _mm512_fmadd_ps(w, load(xr, 1), A1);            \
  }
    for (uint32_t t = 0; t < n; ++t) {
      PYRT_SPMM_STEP(k0 + t, a00, a01)
      PYRT_SPMM_STEP(k1 + t, a10, a11)
      PYRT_SPMM_STEP(k2 + t, a20, a21)
      PYRT_SPMM_STEP(k3 + t, a30, a31)
    }
    for (uint32_t q = k0 + n; q < e0; ++q) PYRT_SPMM_STEP(q, a00, a01)
    for (uint32_t q = k1 + n; q < e1; ++q) PYRT_SPMM_STEP(q, a10, a11)
    for (uint32_t q = k2 + n; q < e2; ++q) PYRT_SPMM_STEP(q, a20, a21)
    for (uint32_t q = k3 + n; q < e3; ++q) PYRT_SPMM_STEP(q, a30, a31)
#undef PYRT_SPMM_STEP
    store(r0, a00, a01);
    store(r1, a10, a11);
    store(r2, a20, a21);
    store(r3, a30, a31);
  }
  for (; i < m.rows; ++i) {
    const size_t o = row(i);
    __m512 a0 = _mm512_set1_ps(bias ? bias[o] : 0.f), a1 = a0;
    for (uint32_t q = m.start[o]; q < m.start[o + 1]; ++q) {
      const __m512 w = _mm512_set1_ps(m.w[q]);
      a0 = _mm512_fmadd_ps(w, load(xp + size_t(col[q]) * 32, 0), a0);
      a1 = _mm512_fmadd_ps(w, load(xp + size_t(col[q]) * 32, 1), a1);
    }
    store(o, a0, a1);
  }
}

}  // namespace

void spmm_avx512(const SparseRows& m, size_t x_stride, const float* bias, const ActParams& act, const float* x,
                 float* y, size_t y_stride, size_t p0, size_t p1) {
  if (act.act != Act::kNone && act.act != Act::kRelu && act.act != Act::kClip)
    return ref::spmm(m, x_stride, bias, act, x, y, y_stride, p0, p1);
  // The 32-pixel columns of all input rows are copied together first: the rows themselves lie a plane apart,
  // and at 56x56 (12.5 KiB) they fall into a few L1 sets and evict each other.
  thread_local std::vector<float> buf;
  if (buf.size() < m.cols * 32 + 16) buf.resize(m.cols * 32 + 16);
  float* tile = buf.data() + (16 - reinterpret_cast<uintptr_t>(buf.data()) / 4 % 16) % 16;  // 64-byte aligned
  for (size_t p = p0; p < p1; p += 32) {
    const size_t n = std::min<size_t>(p1 - p, 32);
    const __mmask16 m0 = n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1);
    const __mmask16 m1 = n >= 32 ? __mmask16(0xFFFF) : n > 16 ? __mmask16((1u << (n - 16)) - 1) : __mmask16(0);
    for (size_t c = 0; c < m.cols; ++c) {
      const float* src = x + x_row(m, uint32_t(c), x_stride) + p;
      _mm512_store_ps(tile + c * 32, n == 32 ? _mm512_loadu_ps(src) : _mm512_maskz_loadu_ps(m0, src));
      _mm512_store_ps(tile + c * 32 + 16, n == 32 ? _mm512_loadu_ps(src + 16) : _mm512_maskz_loadu_ps(m1, src + 16));
    }
    with_cols(m, [&](const auto* col) {
      if (n == 32) tile32<true>(m, col, bias, act, tile, y, y_stride, p, m0, m1);
      else tile32<false>(m, col, bias, act, tile, y, y_stride, p, m0, m1);
    });
  }
}

// ---- spmv on its packed layout (spmv_pack_avx512): no gathers ----
// Rows in groups of 16, columns in blocks of 32. Per group and block, steps of one nonzero of each of the 16 rows:
// the block's 32 x values sit in two registers and one vpermi2ps picks each lane's value. Lanes past a row's
// nonzeros have index 0xFF and are masked off (never 0 * inf). f32 values are stored without the padding (the
// live lanes' values one after the other, expanded into their lanes: the padding would double the bytes of a
// memory-bound loop; a step may load up to 60 bytes past its values, inside the buffer's 64 bytes of slack);
// i8 values 16 bytes a step, the row scale applied at the end.
// Layout: u32 offset[groups + 1] (bytes); per group: u8 steps[blocks] padded to 64, then per block its steps'
// 16 index bytes each, then the values, padded to 64 bytes.
namespace {
constexpr size_t kVG = 16, kVB = 32;

size_t a64(size_t n) { return (n + 63) & ~size_t(63); }

// The layout's size; also writes it when dst is given.
size_t spmv_layout(const SparseRows& m, uint8_t* dst) {
  const size_t groups = (m.rows + kVG - 1) / kVG, blocks = (m.cols + kVB - 1) / kVB;
  const size_t hdr = a64(blocks);
  size_t off = a64((groups + 1) * 4);
  std::vector<uint32_t> cur(kVG), count(blocks);
  std::vector<uint8_t> steps(blocks);
  for (size_t g = 0; g < groups; ++g) {
    const size_t r0 = g * kVG, nr = std::min(kVG, m.rows - r0);
    std::fill(steps.begin(), steps.end(), uint8_t(0));
    for (size_t j = 0; j < nr; ++j) {
      std::fill(count.begin(), count.end(), 0u);
      for (uint32_t k = m.start[r0 + j]; k < m.start[r0 + j + 1]; ++k) ++count[col_at(m, k) / kVB];
      for (size_t b = 0; b < blocks; ++b) steps[b] = std::max(steps[b], uint8_t(count[b]));
      cur[j] = m.start[r0 + j];
    }
    size_t at = off + hdr;
    if (dst) {
      const uint32_t o = uint32_t(off);
      std::memcpy(dst + 4 * g, &o, 4);
      std::memcpy(dst + off, steps.data(), blocks);
    }
    for (size_t b = 0; b < blocks; ++b) {
      const size_t ns = steps[b];
      if (!ns) continue;
      size_t live = 0;  // the values stored (f32: the block's nonzeros of the group's rows)
      for (size_t j = 0; j < nr; ++j)
        for (uint32_t k = cur[j]; k < m.start[r0 + j + 1] && col_at(m, k) / kVB == b; ++k) ++live;
      if (dst) {
        uint8_t* ix = dst + at;
        uint8_t* v = ix + ns * kVG;
        std::memset(ix, 0xFF, ns * kVG);
        if (m.q) std::memset(v, 0, ns * kVG);
        std::vector<uint32_t> e(nr);  // each row's end in this block
        for (size_t j = 0; j < nr; ++j) {
          e[j] = cur[j];
          while (e[j] < m.start[r0 + j + 1] && col_at(m, e[j]) / kVB == b) ++e[j];
        }
        size_t o = 0;
        for (size_t t = 0; t < ns; ++t)  // step-major: a step's live lanes in lane order
          for (size_t j = 0; j < nr; ++j) {
            const uint32_t k = cur[j] + uint32_t(t);
            if (k >= e[j]) continue;
            ix[t * kVG + j] = uint8_t(col_at(m, k) % kVB);
            if (m.q) v[t * kVG + j] = uint8_t(m.q[k]);
            else std::memcpy(v + 4 * o++, &m.w[k], 4);
          }
        for (size_t j = 0; j < nr; ++j) cur[j] = e[j];
      } else {
        for (size_t j = 0; j < nr; ++j)
          while (cur[j] < m.start[r0 + j + 1] && col_at(m, cur[j]) / kVB == b) ++cur[j];
      }
      at += a64(ns * kVG + (m.q ? ns * kVG : 4 * live));
    }
    off = at;
  }
  if (dst) {
    const uint32_t o = uint32_t(off);
    std::memcpy(dst + 4 * groups, &o, 4);
  }
  return off;
}

void spmv_packed(const SparseRows& m, const float* x, const float* bias, float* y, size_t r0, size_t r1) {
  const size_t blocks = (m.cols + kVB - 1) / kVB, hdr = a64(blocks);
  thread_local std::vector<float> xb;  // x in whole blocks (the permutes read 32 floats at a time)
  if (xb.size() < blocks * kVB) xb.resize(blocks * kVB);
  std::memcpy(xb.data(), x, m.cols * 4);
  std::fill(xb.begin() + long(m.cols), xb.begin() + long(blocks * kVB), 0.f);
  for (size_t n = r0; n < r1; n += kVG) {
    uint32_t off;
    std::memcpy(&off, m.packed + 4 * (n / kVG), 4);
    const uint8_t* steps = m.packed + off;
    const uint8_t* at = steps + hdr;
    // four accumulators: consecutive steps do not wait on each other's FMA
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t b = 0; b < blocks; ++b) {
      const size_t ns = steps[b];
      if (!ns) continue;
      const __m512 xl = _mm512_loadu_ps(xb.data() + b * kVB), xh = _mm512_loadu_ps(xb.data() + b * kVB + 16);
      const uint8_t* ix = at;
      const uint8_t* v = at + ns * kVG;
      auto step = [&](size_t s, __m512& acc) {
        // far ahead: each value load's address waits on the previous step's popcount, so the stream must not
        // miss (as the int4 GEMV, 16 KiB)
        _mm_prefetch(reinterpret_cast<const char*>(v) + 16384, _MM_HINT_T0);
        const __m128i i8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(ix + s * kVG));
        const __mmask16 live = _mm_cmpneq_epi8_mask(i8, _mm_set1_epi8(-1));
        const __m512 xv = _mm512_permutex2var_ps(xl, _mm512_cvtepu8_epi32(i8), xh);
        __m512 w;
        if (m.q) {
          w = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v))));
          v += kVG;
        } else {
          // the register form: expand loads from memory are slow on some cores (microcoded)
          w = _mm512_maskz_expand_ps(live, _mm512_loadu_ps(reinterpret_cast<const float*>(v)));
          v += 4 * size_t(__builtin_popcount(live));
        }
        acc = _mm512_mask3_fmadd_ps(w, xv, acc, live);
      };
      size_t s = 0;
      for (; s + 4 <= ns; s += 4) step(s, a0), step(s + 1, a1), step(s + 2, a2), step(s + 3, a3);
      for (; s < ns; ++s) step(s, a0);
      // the layout pads each block to 64 bytes from the block's start (offsets relative to m.packed), not to a
      // 64-byte address: rounding the address skipped or fell short of the next block whenever m.packed was not
      // 64-byte aligned (e.g. a std::vector from malloc), reading indices and values out of step.
      at = ix + a64(size_t(v - ix));
    }
    const __mmask16 mask = r1 - n >= kVG ? __mmask16(0xFFFF) : __mmask16((1u << (r1 - n)) - 1);
    __m512 acc = _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3));
    if (m.q) acc = _mm512_mul_ps(acc, _mm512_maskz_loadu_ps(mask, m.row_scale + n));
    if (bias) acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(mask, bias + n));
    _mm512_mask_storeu_ps(y + n, mask, acc);
  }
}

}  // namespace

size_t spmv_pack_size_avx512(const SparseRows& m) { return spmv_layout(m, nullptr); }
void spmv_pack_avx512(const SparseRows& m, uint8_t* dst) { spmv_layout(m, dst); }

// Without the packed layout: CSR rows, x gathered. Columns as u16 when available and values as i8 when given: the bytes per nonzero go from 8 (f32 + u32) to 6
// or 3. (Measured on Zen 5, the x gathers bound the loop more than the bytes: i8 gains ~5-10%.)
void spmv_avx512(const SparseRows& m, const float* x, const float* bias, float* y, size_t r0, size_t r1) {
  if (m.packed) return spmv_packed(m, x, bias, y, r0, r1);
  for (size_t r = r0; r < r1; ++r) {
    __m512 acc = _mm512_setzero_ps();
    const uint32_t b = m.start[r], e = m.start[r + 1];
    uint32_t k = b;
    for (; k + 16 <= e; k += 16) {  // plain loads (masked ones issue at half the rate)
      const __m512i idx = m.col16 ? _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(m.col16 + k)))
                                  : _mm512_loadu_si512(m.col + k);
      const __m512 w = m.q ? _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(m.q + k))))
                           : _mm512_loadu_ps(m.w + k);
      // two 8-lane gathers: ~10% faster than one 16-lane gather here (the gathers bound this loop)
      const __m256 g0 = _mm256_i32gather_ps(x, _mm512_castsi512_si256(idx), 4);
      const __m256 g1 = _mm256_i32gather_ps(x, _mm512_extracti64x4_epi64(idx, 1), 4);
      acc = _mm512_fmadd_ps(w, _mm512_insertf32x8(_mm512_castps256_ps512(g0), g1, 1), acc);
    }
    if (k < e) {
      const __mmask16 t = __mmask16((1u << (e - k)) - 1);
      const __m512i idx = m.col16 ? _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(t, m.col16 + k))
                                  : _mm512_maskz_loadu_epi32(t, m.col + k);
      const __m512 w = m.q ? _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(t, m.q + k)))
                           : _mm512_maskz_loadu_ps(t, m.w + k);
      acc = _mm512_fmadd_ps(w, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), t, idx, x, 4), acc);
    }
    const float s = _mm512_reduce_add_ps(acc);
    y[r] = (m.q ? s * m.row_scale[r] : s) + (bias ? bias[r] : 0.f);
  }
}

}  // namespace pyrt::kernels::x86
