#include "compute/qgemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "compute/thread_pool.h"

namespace pyrt::qgemm {

void Packed::Free::operator()(int8_t* p) const { std::free(p); }

namespace {
size_t align64(size_t n) { return (n + 63) / 64 * 64; }
size_t panels_bytes(size_t N, size_t K, const kernels::QGemmKernel& uk) {
  const size_t kp = (K + uk.kr - 1) / uk.kr * uk.kr;
  return std::max<size_t>(64, align64((N + uk.nr - 1) / uk.nr * kp * uk.nr));
}
}  // namespace

size_t Packed::block_bytes(size_t N, size_t K, const kernels::QGemmKernel& uk, size_t tail) {
  return panels_bytes(N, K, uk) + align64(N * 4) + align64(tail);
}

std::string Packed::layout_name(const kernels::QGemmKernel& uk) {
  return "qgemm-panels." + std::to_string(uk.nr) + "x" + std::to_string(uk.kr);
}

Packed pack(const int8_t* w, size_t N, size_t K, const kernels::QGemmKernel& uk, size_t sn, size_t sk,
            const void* tail, size_t tail_bytes) {
  if (!sn) sn = K;
  Packed r;
  r.n = N, r.k = K, r.uk = uk, r.tail = tail_bytes;
  r.kp = (K + uk.kr - 1) / uk.kr * uk.kr;
  const size_t bytes = Packed::block_bytes(N, K, uk, tail_bytes);
  r.owned.reset(static_cast<int8_t*>(std::aligned_alloc(64, bytes)));
  if (!r.owned) throw std::bad_alloc();
  std::memset(r.owned.get(), 0, bytes);
  r.data = r.owned.get();
  int32_t* wsum = reinterpret_cast<int32_t*>(r.owned.get() + panels_bytes(N, K, uk));
  r.wsum = wsum;
  for (size_t n = 0; n < N; ++n) {
    int8_t* panel = r.owned.get() + n / uk.nr * r.panel_bytes();
    const size_t j = n % uk.nr;
    for (size_t k = 0; k < K; ++k) {
      const int8_t v = w[n * sn + k * sk];
      panel[(k / uk.kr * uk.nr + j) * uk.kr + k % uk.kr] = v;
      wsum[n] += v;
    }
  }
  if (tail_bytes) std::memcpy(r.owned.get() + bytes - tail_bytes, tail, tail_bytes);
  return r;
}

std::unique_ptr<Packed> view(const void* bytes, uint64_t size, size_t N, size_t K, const kernels::QGemmKernel& uk,
                             size_t tail) {
  if (size != Packed::block_bytes(N, K, uk, tail) || reinterpret_cast<uintptr_t>(bytes) % 64) return nullptr;
  // Column sums no int8 column can have are not a block pack() made (and could overflow the bias folding).
  const int32_t* wsum = reinterpret_cast<const int32_t*>(static_cast<const int8_t*>(bytes) + panels_bytes(N, K, uk));
  for (size_t n = 0; n < N; ++n)
    if (int64_t(wsum[n]) < -128 * int64_t(K) || int64_t(wsum[n]) > 127 * int64_t(K)) return nullptr;
  auto r = std::make_unique<Packed>();
  r->n = N, r->k = K, r->uk = uk, r->tail = tail;
  r->kp = (K + uk.kr - 1) / uk.kr * uk.kr;
  r->data = static_cast<const int8_t*>(bytes);
  r->wsum = reinterpret_cast<const int32_t*>(r->data + panels_bytes(N, K, uk));
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
          uk.fn(std::min(mr, m1 - i), std::min(nr, N - j), K, a + i * lda, lda, b.data + p * b.panel_bytes(),
                bias + j, scale + j, rq, static_cast<uint8_t*>(c) + (i * ldc + j) * esize, ldc);
        }
      return;
    }
    for (size_t i0 = m0; i0 < m1; i0 += mc) {
      const size_t i1 = std::min(m1, i0 + mc);
      for (size_t p = p0; p < p1; ++p) {
        const size_t j = p * nr, w = std::min(nr, N - j);
        const int8_t* panel = b.data + p * b.panel_bytes();
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

SparsePacked pack_sparse(const int8_t* w, size_t N, size_t K, const kernels::SqGemmKernel& uk) {
  SparsePacked r;
  r.n = N, r.k = K, r.uk = uk;
  r.wsum.assign(N, 0);
  for (size_t n = 0; n < N; ++n) {
    for (size_t k = 0; k < K; ++k)
      if (const int8_t v = w[n * K + k]) r.col.push_back(uint32_t(k)), r.q.push_back(v), r.wsum[n] += v;
    r.start.push_back(uint32_t(r.q.size()));
  }
  if (!uk.group) return r;
  // The kernel's layout (kernels::SparseQ): per group of G rows and block of B columns, ceil(max count / 4)
  // steps of 4 nonzeros of every row.
  const size_t G = uk.group, B = uk.block, groups = (N + G - 1) / G, blocks = (K + B - 1) / B;
  const size_t hdr = (blocks + 63) / 64 * 64, step = 8 * G;
  std::vector<uint8_t> steps(groups * blocks, 0);
  std::vector<size_t> off(groups + 1);
  off[0] = ((groups + 1) * 4 + 63) / 64 * 64;
  for (size_t g = 0; g < groups; ++g) {
    std::vector<uint32_t> count(blocks, 0);
    for (size_t n = g * G; n < std::min(N, g * G + G); ++n) {
      std::fill(count.begin(), count.end(), 0u);
      for (uint32_t k = r.start[n]; k < r.start[n + 1]; ++k) ++count[r.col[k] / B];
      for (size_t b = 0; b < blocks; ++b)
        steps[g * blocks + b] = std::max<uint8_t>(steps[g * blocks + b], uint8_t((count[b] + 3) / 4));
    }
    size_t bytes = hdr;
    for (size_t b = 0; b < blocks; ++b) bytes += steps[g * blocks + b] * step;
    off[g + 1] = off[g] + (bytes + 63) / 64 * 64;
  }
  r.packed.reset(static_cast<int8_t*>(std::aligned_alloc(64, off[groups])));
  if (!r.packed) throw std::bad_alloc();
  uint8_t* p = reinterpret_cast<uint8_t*>(r.packed.get());
  std::memset(p, 0, off[groups]);
  for (size_t g = 0; g <= groups; ++g) {
    const uint32_t o = uint32_t(off[g]);
    std::memcpy(p + 4 * g, &o, 4);
  }
  for (size_t g = 0; g < groups; ++g) {
    uint8_t* d = p + off[g];
    std::memcpy(d, &steps[g * blocks], blocks);
    d += hdr;
    std::vector<uint32_t> cur(G);  // each row's next nonzero (columns ascend, so blocks come in order)
    for (size_t j = 0; j < G; ++j) cur[j] = g * G + j < N ? r.start[g * G + j] : 0;
    for (size_t b = 0; b < blocks; ++b) {
      for (size_t j = 0; j < G && g * G + j < N; ++j)
        for (size_t t = 0; cur[j] < r.start[g * G + j + 1] && r.col[cur[j]] / B == b; ++t, ++cur[j]) {
          uint8_t* s = d + t / 4 * step;
          s[j * 4 + t % 4] = uint8_t(r.col[cur[j]] % B);
          s[4 * G + j * 4 + t % 4] = uint8_t(r.q[cur[j]]);
        }
      d += steps[g * blocks + b] * step;
    }
  }
  return r;
}

std::vector<int32_t> fold_bias(const SparsePacked& b, const int32_t* bias_q, int32_t za) {
  std::vector<int32_t> out(b.n);
  for (size_t n = 0; n < b.n; ++n) out[n] = (bias_q ? bias_q[n] : 0) - za * b.wsum[n];
  return out;
}

void run_sparse(const uint8_t* a, size_t lda, size_t M, const SparsePacked& b, const int32_t* bias, const float* scale,
                const kernels::QRequant& rq, void* c, size_t ldc, ThreadPool* pool) {
  if (M == 0 || b.n == 0) return;
  const kernels::SparseQ w = b.view();
  const size_t G = std::max<size_t>(b.uk.group, 1), groups = (b.n + G - 1) / G, esize = rq.f32_out ? 4 : 1;
  const int threads = pool ? pool->size() : 1;
  // Rows of A in blocks of 8 (the kernels' widest) when there are enough of them, else the groups of W split.
  constexpr size_t kRows = 8;
  const bool split_m = M >= 2 * kRows;
  const size_t pieces = split_m ? (M + kRows - 1) / kRows : groups;
  const double work = double(b.q.size()) * double(split_m ? kRows : M) / double(split_m ? 1 : groups);
  const size_t grain = std::max<size_t>(1, size_t(2e5 / std::max(work, 1.0)));
  auto body = [&](size_t p0, size_t p1, int) {
    if (split_m) {
      const size_t m0 = p0 * kRows, m1 = std::min(M, p1 * kRows);
      b.uk.fn(w, a + m0 * lda, lda, m1 - m0, bias, scale, rq, static_cast<uint8_t*>(c) + m0 * ldc * esize, ldc, 0, b.n);
    } else {
      b.uk.fn(w, a, lda, M, bias, scale, rq, c, ldc, p0 * G, std::min(b.n, p1 * G));
    }
  };
  if (threads > 1 && pieces >= 2 * grain) pool->parallel_for(pieces, grain, body);
  else body(0, pieces, 0);
}

}  // namespace pyrt::qgemm
