#include "kernels/qgemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "core/thread_pool.h"

namespace pyrt::qgemm {

void Packed::Free::operator()(int8_t* p) const { std::free(p); }

Packed pack(const int8_t* w, size_t N, size_t K, const kernels::QGemmKernel& uk) {
  Packed r;
  r.n = N, r.k = K, r.uk = uk;
  r.kp = (K + uk.kr - 1) / uk.kr * uk.kr;
  const size_t panels = (N + uk.nr - 1) / uk.nr, bytes = std::max<size_t>(64, (panels * r.panel_bytes() + 63) / 64 * 64);
  r.data.reset(static_cast<int8_t*>(std::aligned_alloc(64, bytes)));
  if (!r.data) throw std::bad_alloc();
  std::memset(r.data.get(), 0, bytes);
  r.wsum.assign(N, 0);
  for (size_t n = 0; n < N; ++n) {
    int8_t* panel = r.data.get() + n / uk.nr * r.panel_bytes();
    const size_t j = n % uk.nr;
    for (size_t k = 0; k < K; ++k) {
      const int8_t v = w[n * K + k];
      panel[(k / uk.kr * uk.nr + j) * uk.kr + k % uk.kr] = v;
      r.wsum[n] += v;
    }
  }
  return r;
}

std::vector<int32_t> fold_bias(const Packed& b, const int32_t* bias_q, int32_t za) {
  std::vector<int32_t> out(b.n);
  for (size_t n = 0; n < b.n; ++n)
    out[n] = (bias_q ? bias_q[n] : 0) - (za - b.uk.a_offset) * b.wsum[n];
  return out;
}

void run(const uint8_t* a, size_t lda, size_t M, const Packed& b, const int32_t* bias, const float* scale,
         const kernels::QRequant& rq, void* c, size_t ldc, ThreadPool* pool, bool padded_a) {
  if (M == 0 || b.n == 0) return;
  const kernels::QGemmKernel& uk = b.uk;
  const size_t mr = uk.mr, nr = uk.nr, N = b.n, K = padded_a ? b.kp : b.k, esize = rq.f32_out ? 4 : 1;
  // Rows per block: the A rows a block reads against every panel stay in L2 (~128 KiB).
  const size_t mc = std::max(mr, std::min<size_t>(M, (128u << 10) / std::max<size_t>(K, 1)) / mr * mr);
  // All of B small enough to stay in L2 next to the A rows: each row tile runs over every panel, so a row of
  // C is written whole at once (with panels outside, a wide C's lines were fetched again for every panel).
  const bool b_fits = b.kp * N <= (192u << 10);
  auto block = [&](size_t m0, size_t m1, size_t p0, size_t p1) {
    if (b_fits) {
      for (size_t i = m0; i < m1; i += mr)
        for (size_t p = p0; p < p1; ++p) {
          const size_t j = p * nr;
          uk.fn(std::min(mr, m1 - i), std::min(nr, N - j), K, a + i * lda, lda, b.data.get() + p * b.panel_bytes(),
                bias + j, scale + j, rq, static_cast<uint8_t*>(c) + (i * ldc + j) * esize, ldc);
        }
      return;
    }
    for (size_t i0 = m0; i0 < m1; i0 += mc) {
      const size_t i1 = std::min(m1, i0 + mc);
      for (size_t p = p0; p < p1; ++p) {
        const size_t j = p * nr, w = std::min(nr, N - j);
        const int8_t* panel = b.data.get() + p * b.panel_bytes();
        for (size_t i = i0; i < i1; i += mr)
          uk.fn(std::min(mr, i1 - i), w, K, a + i * lda, lda, panel, bias + j, scale + j, rq,
                static_cast<uint8_t*>(c) + (i * ldc + j) * esize, ldc);
      }
    }
  };
  const size_t pm = (M + mr - 1) / mr, pn = (N + nr - 1) / nr;
  const int threads = pool ? pool->size() : 1;
  // Split along whichever of M (row tiles) and N (panels) has more pieces; tasks of at least ~1 M MACs.
  const bool split_n = pn >= pm;
  const double macs = double(split_n ? M * nr : N * mr) * double(std::max<size_t>(K, 1));
  const size_t grain = std::max<size_t>(1, size_t(1e6 / macs));
  const size_t pieces = split_n ? pn : pm;
  auto body = [&](size_t b0, size_t b1, int) {
    if (split_n) block(0, M, b0, b1);
    else block(b0 * mr, std::min(M, b1 * mr), 0, pn);
  };
  if (threads > 1 && pieces >= 2 * grain) pool->parallel_for(pieces, grain, body);
  else body(0, pieces, 0);
}

}  // namespace pyrt::qgemm
