// Sparse kernels of every table the CPU has against the reference: spmm and the sparse u8 GEMM bit-exact (one FMA
// chain per output in the same order; exact int32 sums), spmv within float rounding of the sum of |products|.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "harness.h"
#include "kernels/dispatch.h"
#include "compute/qgemm.h"
#include "kernels/ref/ref.h"

using namespace pyrt;
using kernels::Table;

namespace {

struct Csr {
  std::vector<uint32_t> start, col, order;
  std::vector<float> w;
  kernels::SparseRows view(size_t rows, size_t cols) const {
    return {rows, cols, start.data(), w.data(), col.data(), order.empty() ? nullptr : order.data()};
  }
};

Csr random_csr(std::mt19937& rng, size_t rows, size_t cols, double density) {
  Csr m;
  m.start.push_back(0);
  std::uniform_real_distribution<double> u(0, 1);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols; ++c)
      if (u(rng) < density) m.col.push_back(uint32_t(c)), m.w.push_back(float(int(rng() % 2001) - 1000) / 311.f);
    m.start.push_back(uint32_t(m.col.size()));
  }
  return m;
}

}  // namespace

TEST(spmm_matches_reference) {
  std::mt19937 rng(21);
  for (const Table* t : pyrt::kernels::supported_tables()) {
    if (!t) continue;
    for (int rep = 0; rep < 60; ++rep) {
      const size_t rows = 1 + rng() % 40, cols = 1 + rng() % 50;
      const size_t pix[] = {1, 3, 4, 8, 15, 16, 17, 31, 33, 64, 65, 100, 130, 200};
      const size_t np = pix[rng() % 14], stride = np + rng() % 5;
      Csr m = random_csr(rng, rows, cols, rep % 3 == 0 ? 0.05 : 0.3);
      if (rep % 2) {  // rows in a given order (by nonzero count, reversed): same outputs
        for (size_t r = 0; r < rows; ++r) m.order.push_back(uint32_t(r));
        std::sort(m.order.begin(), m.order.end(), [&](uint32_t a, uint32_t b) {
          return m.start[a + 1] - m.start[a] > m.start[b + 1] - m.start[b];
        });
      }
      std::vector<float> x(cols * stride), bias(rows);
      for (auto& v : x) v = float(int(rng() % 2001) - 1000) / 97.f;
      for (auto& v : bias) v = float(int(rng() % 200) - 100) / 10.f;
      ActParams act;
      if (rep % 3 == 1) act.act = Act::kRelu;
      if (rep % 3 == 2) act = {Act::kClip, -2.f, 3.f};
      std::vector<float> got(rows * stride, 7.f), want(got);
      const size_t mid = np / 2;
      const float* b = rep % 4 ? bias.data() : nullptr;
      std::vector<uint16_t> col16(m.col.begin(), m.col.end());
      kernels::SparseRows v = m.view(rows, cols);
      if (rep % 5 >= 2) v.col16 = col16.data(), v.col = nullptr;  // u16 columns only (the file's, in place)
      t->spmm(v, stride, b, act, x.data(), got.data(), stride, 0, mid);
      t->spmm(v, stride, b, act, x.data(), got.data(), stride, mid, np);
      kernels::ref::spmm(m.view(rows, cols), stride, b, act, x.data(), want.data(), stride, 0, np);
      if (std::memcmp(got.data(), want.data(), got.size() * 4) != 0) {
        std::fprintf(stderr, "  %s spmm rows=%zu cols=%zu np=%zu\n", t->name, rows, cols, np);
        CHECK(false);
        break;
      }
    }
  }
}

TEST(spmv_matches_reference) {
  std::mt19937 rng(22);
  for (const Table* t : pyrt::kernels::supported_tables()) {
    if (!t) continue;
    for (int rep = 0; rep < 60; ++rep) {
      const size_t rows = 1 + rng() % 70, cols = 1 + rng() % 300;
      Csr m = random_csr(rng, rows, cols, rep % 2 ? 0.1 : 0.5);
      std::vector<uint16_t> col16(m.col.begin(), m.col.end());
      std::vector<int8_t> q(m.w.size());
      std::vector<float> rs(rows);
      for (size_t r = 0; r < rows; ++r) {  // i8 values with a row scale, the products w = q * scale
        rs[r] = float(1 + rng() % 100) / 512.f;
        for (uint32_t k = m.start[r]; k < m.start[r + 1]; ++k) q[k] = int8_t(int(rng() % 255) - 127), m.w[k] = q[k] * rs[r];
      }
      kernels::SparseRows v = m.view(rows, cols);
      if (rep % 3 >= 1) v.col16 = col16.data(), v.col = rep % 2 ? nullptr : v.col;  // narrow columns (alone)
      if (rep % 3 == 2) v.q = q.data(), v.row_scale = rs.data();  // i8 values
      std::vector<uint8_t> packed;
      size_t split = rows / 3;
      if (t->spmv_pack && rep % 4 < 2) {  // the table's own layout: rows split at a group boundary
        packed.assign(t->spmv_pack_size(v) + 64 + 128, 0);  // + the 64 bytes of slack the loads may read
        // at every 16-byte misalignment from 64 (the layout's padding is relative to its start, whatever the
        // allocator gives; the packed walk once rounded addresses and read garbage off 64-byte boundaries)
        uint8_t* p = packed.data() + (64 - reinterpret_cast<uintptr_t>(packed.data()) % 64) % 64 + 16 * (rep / 4 % 4);
        t->spmv_pack(v, p);
        v.packed = p;
        split = split / t->spmv_group * t->spmv_group;
      }
      std::vector<float> x(cols), bias(rows), got(rows), want(rows);
      for (auto& xv : x) xv = float(int(rng() % 2001) - 1000) / 97.f;
      for (auto& bv : bias) bv = float(int(rng() % 200) - 100) / 10.f;
      if (rep % 5 == 4 && cols > 1) x[rng() % cols] = INFINITY;  // reaches only the rows that have that column
      t->spmv(v, x.data(), bias.data(), got.data(), 0, split);
      t->spmv(v, x.data(), bias.data(), got.data(), split, rows);
      kernels::ref::spmv(m.view(rows, cols), x.data(), bias.data(), want.data(), 0, rows);
      for (size_t r = 0; r < rows; ++r) {
        double mag = std::fabs(bias[r]);
        for (uint32_t k = m.start[r]; k < m.start[r + 1]; ++k) mag += std::fabs(double(m.w[k]) * x[m.col[k]]);
        const bool same_nonfinite = !std::isfinite(want[r]) && (std::isnan(want[r]) ? std::isnan(got[r]) : got[r] == want[r]);
        if (!same_nonfinite && !(std::fabs(double(got[r]) - want[r]) <= 1e-5 * mag + 1e-6)) {
          std::fprintf(stderr, "  %s spmv row %zu: got %.9g want %.9g\n", t->name, r, got[r], want[r]);
          CHECK(false);
          break;
        }
      }
    }
  }
}

// The sparse u8 x s8 product: each table's kernel on its packed layout gives the reference's bits (exact int32
// sums), for row and column tails, sub-ranges of rows of W, u8 and f32 outputs.
TEST(sqgemm_matches_reference) {
  std::mt19937 rng(5);
  for (const Table* t : pyrt::kernels::supported_tables()) {
    if (!t) continue;
    for (int rep = 0; rep < 80; ++rep) {
      const size_t N = 1 + rng() % 70, K = 1 + rng() % 300, M = 1 + rng() % 9, lda = K + rng() % 7;
      const double density = rep % 4 == 0 ? 0.02 : rep % 4 == 1 ? 0.5 : 0.12;
      std::vector<int8_t> w(N * K, 0);
      for (auto& v : w)
        if (std::uniform_real_distribution<double>(0, 1)(rng) < density) v = int8_t(int(rng() % 255) - 127);
      const qgemm::SparsePacked p = qgemm::pack_sparse(w.data(), N, K, t->sqgemm);
      std::vector<uint8_t> a(M * lda);
      for (auto& v : a) v = uint8_t(rng());
      std::vector<int32_t> bias(N);
      std::vector<float> scale(N);
      for (size_t n = 0; n < N; ++n) bias[n] = int32_t(rng() % 20001) - 10000, scale[n] = 0.0004f * float(1 + rng() % 50);
      kernels::QRequant rq{-float(rng() % 60), float(rng() % 100 + 50), int32_t(rng() % 256), rep % 3 == 0};
      rq.lo = std::max(rq.lo, -float(rq.zp)), rq.hi = std::min(rq.hi, float(255 - rq.zp));
      const size_t G = std::max<size_t>(t->sqgemm.group, 1), n0 = (rng() % (N / G + 1)) * G;
      const size_t esize = rq.f32_out ? 4 : 1;
      std::vector<uint8_t> want(M * N * esize, 0xAB), got(M * N * esize, 0xAB);
      kernels::ref::sqgemm(p.view(), a.data(), lda, M, bias.data(), scale.data(), rq, want.data(), N, n0, N);
      p.uk.fn(p.view(), a.data(), lda, M, bias.data(), scale.data(), rq, got.data(), N, n0, N);
      CHECK(got == want);
    }
  }
}
