// The 8-bit integer kernels of every table the CPU has against plain integer arithmetic: bit-exact (integer
// sums are exact, and every ISA requantizes with the same float operations).
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "harness.h"
#include "kernels/dispatch.h"
#include "compute/qgemm.h"
#include "kernels/ref/ref.h"

using namespace pyrt;
using kernels::Table;

namespace {

std::vector<const Table*> tables() {
  std::vector<const Table*> v{&kernels::reference()};
  for (const Table* t : pyrt::kernels::supported_tables())
    if (t) v.push_back(t);
  return v;
}

kernels::QRequant random_rq(std::mt19937& rng) {
  kernels::QRequant rq;
  rq.zp = int32_t(rng() % 256);
  int32_t qmin = 0, qmax = 255;
  if (rng() % 2) qmin = rq.zp, qmax = std::min(255, rq.zp + int32_t(rng() % 200));  // a fused ReLU(6)
  rq.lo = float(qmin - rq.zp), rq.hi = float(qmax - rq.zp);
  rq.f32_out = false;
  return rq;
}

}  // namespace

TEST(qgemm_matches_integer_arithmetic) {
  std::mt19937 rng(5);
  const size_t Ms[] = {1, 2, 3, 4, 5, 11, 12, 13, 25, 40};
  const size_t Ns[] = {1, 3, 15, 16, 17, 31, 32, 33, 48, 70};
  const size_t Ks[] = {1, 2, 3, 4, 5, 7, 8, 15, 16, 27, 64, 100, 333};
  for (const Table* t : tables()) {
    for (int rep = 0; rep < 120; ++rep) {
      const size_t M = Ms[rng() % 10], N = Ns[rng() % 10], K = Ks[rng() % 13], lda = K + rng() % 3;
      std::vector<uint8_t> a(M * lda);
      std::vector<int8_t> w(N * K);
      std::vector<int32_t> bq(N);
      std::vector<float> scale(N);
      for (auto& v : a) v = uint8_t(rng());
      for (auto& v : w) v = int8_t(rng());
      if (rep % 7 == 0) for (auto& v : w) v = -128;   // the extremes: no saturation anywhere
      if (rep % 7 == 0) for (auto& v : a) v = 255;
      for (auto& v : bq) v = int32_t(rng() % 200001) - 100000;
      for (auto& v : scale) v = float(rng() % 1000 + 1) * 1e-6f;
      const int32_t za = int32_t(rng() % 256);
      kernels::QRequant rq = random_rq(rng);
      rq.f32_out = rep % 5 == 0;
      const qgemm::Packed p = qgemm::pack(w.data(), N, K, t->qgemm);
      const std::vector<int32_t> bias = qgemm::fold_bias(p, bq.data(), za);
      const size_t ldc = N + rng() % 3, es = rq.f32_out ? 4 : 1;
      std::vector<uint8_t> got(M * ldc * es, 0xAB), want(got);
      qgemm::run(a.data(), lda, M, p, bias.data(), scale.data(), rq, got.data(), ldc, nullptr);
      for (size_t i = 0; i < M; ++i)
        for (size_t j = 0; j < N; ++j) {
          int32_t acc = bq[j];
          for (size_t k = 0; k < K; ++k) acc += (int32_t(a[i * lda + k]) - za) * int32_t(w[j * K + k]);
          if (rq.f32_out) {
            const float f = float(acc) * scale[j];
            std::memcpy(&want[(i * ldc + j) * 4], &f, 4);
          } else {
            want[i * ldc + j] = kernels::requant_one(acc, scale[j], rq);
          }
        }
      if (got != want) {
        std::fprintf(stderr, "  %s M=%zu N=%zu K=%zu f32=%d\n", t->name, M, N, K, int(rq.f32_out));
        CHECK(false);
        break;
      }
    }
  }
}

TEST(qdwconv_nhwc_matches_reference) {
  for (const Table* t : tables()) {
    std::mt19937 rng(12);
    for (int rep = 0; rep < 200; ++rep) {
      kernels::DwNhwcParams p;
      p.c = 1 + rng() % 80, p.kh = 1 + rng() % 5, p.kw = 1 + rng() % 5, p.sh = 1 + rng() % 2, p.sw = 1 + rng() % 2;
      p.dh = 1 + rng() % 2, p.dw = 1 + rng() % 2, p.h = 1 + rng() % 12, p.w = 1 + rng() % 20;
      if (rep % 10 == 9) p.h = 20 + rng() % 20, p.w = 30 + rng() % 40, p.kh = p.kw = 3 + 2 * (rng() % 2);  // wide rows
      p.pt = rng() % 3, p.pl = rng() % 3;
      const int64_t pb = rng() % 3, pr = rng() % 3, eh = (p.kh - 1) * p.dh + 1, ew = (p.kw - 1) * p.dw + 1;
      if (p.h + p.pt + pb < eh || p.w + p.pl + pr < ew) continue;
      p.oh = (p.h + p.pt + pb - eh) / p.sh + 1, p.ow = (p.w + p.pl + pr - ew) / p.sw + 1;
      p.cb = 0, p.ce = p.c;
      if (rep % 5 == 4) p.cb = rng() % p.c, p.ce = p.cb + 1 + rng() % (p.c - p.cb);
      std::vector<uint8_t> x(size_t(p.h * p.w * p.c));
      std::vector<int16_t> w(size_t(p.kh * p.kw * p.c));
      std::vector<int32_t> bias(size_t(p.c));
      std::vector<float> scale(size_t(p.c));
      for (auto& v : x) v = uint8_t(rng());
      for (auto& v : w) v = int16_t(int(rng() % 256) - 128);
      for (auto& v : bias) v = int32_t(rng() % 20001) - 10000;
      for (auto& v : scale) v = float(rng() % 1000 + 1) * 1e-5f;
      const int32_t zx = int32_t(rng() % 256);
      const kernels::QRequant rq = random_rq(rng);
      std::vector<uint8_t> got(size_t(p.oh * p.ow * p.c), 7), want(got);
      const int64_t split = p.oh / 2;
      t->qdwconv_nhwc(p, x.data(), zx, w.data(), bias.data(), scale.data(), rq, got.data(), 0, split);
      t->qdwconv_nhwc(p, x.data(), zx, w.data(), bias.data(), scale.data(), rq, got.data(), split, p.oh);
      kernels::ref::qdwconv_nhwc(p, x.data(), zx, w.data(), bias.data(), scale.data(), rq, want.data(), 0, p.oh);
      if (got != want) {
        std::fprintf(stderr, "  %s c=%lld k=%lldx%lld s=%lld d=%lld\n", t->name, (long long)p.c, (long long)p.kh,
                     (long long)p.kw, (long long)p.sh, (long long)p.dh);
        CHECK(false);
        break;
      }
    }
  }
}

TEST(quantize_dequantize_qadd_match_reference) {
  std::mt19937 rng(13);
  for (const Table* t : tables()) {
    for (size_t n : {0, 1, 7, 8, 15, 16, 17, 31, 33, 64, 100, 1000}) {
      std::vector<float> x(n);
      for (auto& v : x) v = float(int(rng() % 20001) - 10000) / 997.f;
      if (n > 3) x[0] = 1e30f, x[1] = -1e30f, x[2] = 0.5f * 0.1f * 3;  // saturation both ways
      const kernels::QParams q{0.0371f, int32_t(rng() % 256)};
      std::vector<uint8_t> a(n), b(n), ya(n), yb(n);
      t->quantize_u8(x.data(), n, q, a.data());
      kernels::ref::quantize_u8(x.data(), n, q, b.data());
      CHECK(a == b);
      for (size_t i = 0; i < n; ++i) {  // and ONNX's definition: saturate(nearbyint(x / s) + zp)
        const double v = std::nearbyint(double(x[i] / q.scale)) + q.zp;
        CHECK(a[i] == uint8_t(v < 0 ? 0 : v > 255 ? 255 : v));
      }
      std::vector<float> fa(n), fb(n);
      t->dequantize_u8(a.data(), n, q, fa.data());
      kernels::ref::dequantize_u8(a.data(), n, q, fb.data());
      CHECK(fa == fb);
      for (auto& v : b) v = uint8_t(rng());
      kernels::QAddParams ap{int32_t(rng() % 256), int32_t(rng() % 256), 0.7f, 1.3f, random_rq(rng)};
      for (int bcast = 0; bcast < 3; ++bcast) {
        const size_t as = bcast == 1 ? 0 : 1, bs = bcast == 2 ? 0 : 1;
        t->qadd_u8(a.data(), as, b.data(), bs, ap, ya.data(), n);
        kernels::ref::qadd_u8(a.data(), as, b.data(), bs, ap, yb.data(), n);
        CHECK(ya == yb);
      }
    }
  }
}

// int8-weights rows (ops/linear_i8.h): every table quantizes rows with the reference's parameters and bytes, and
// finishes the GEMM's rows to the same bits; rows of zeros, all >= 0, with a NaN or an infinity included.
TEST(quantize_rows_and_finish_rows_match_reference) {
  std::mt19937 rng(29);
  for (const Table* t : tables()) {
    for (size_t k : {1, 3, 7, 8, 9, 16, 17, 31, 64, 100, 333}) {
      const size_t m = 6, ldx = k + 3, ldy = (k + 15) / 16 * 16 + 16;
      std::vector<float> x(m * ldx);
      for (auto& v : x) v = float(int(rng() % 20001) - 10000) / 997.f;
      for (size_t i = 0; i < k; ++i) x[1 * ldx + i] = 0.f;                   // all zeros
      for (size_t i = 0; i < k; ++i) x[2 * ldx + i] = std::fabs(x[2 * ldx + i]);  // after a ReLU
      x[3 * ldx + k / 2] = std::numeric_limits<float>::quiet_NaN();
      x[4 * ldx + k - 1] = std::numeric_limits<float>::infinity();
      for (size_t i = 0; i < k; ++i) x[5 * ldx + i] = float(int(i % 5) - 2) * 1e-44f;  // steps below FLT_MIN
      std::vector<uint8_t> a(m * ldy, 7), b(m * ldy, 9);
      std::vector<kernels::QParams> qa(m), qb(m);
      t->quantize_rows_u8(x.data(), m, k, ldx, a.data(), ldy, qa.data());
      kernels::ref::quantize_rows_u8(x.data(), m, k, ldx, b.data(), ldy, qb.data());
      CHECK(a == b);
      for (size_t r = 0; r < m; ++r)
        CHECK(std::memcmp(&qa[r].scale, &qb[r].scale, 4) == 0 && qa[r].zp == qb[r].zp);
      CHECK(qb[1].scale == 1.f && qb[1].zp == 128);  // zeros: the neutral parameters
      CHECK(qb[2].zp == 0);                          // all >= 0: every level above the zero point
      CHECK(std::isnan(qb[3].scale) && std::isnan(qb[4].scale));  // a NaN, an infinity: the row gives NaN
      CHECK(qb[5].scale == 1.f && qb[5].zp == 128);                // denormal steps: the neutral parameters
      const size_t n = k, ldo = n + 5;
      std::vector<float> ya(m * ldo), yb, wsum(n), bias(n);
      for (auto& v : ya) v = float(int(rng() % 2001) - 1000) / 7.f;
      for (auto& v : wsum) v = float(int(rng() % 2001) - 1000) / 31.f;
      for (auto& v : bias) v = float(int(rng() % 2001) - 1000) / 13.f;
      yb = ya;
      for (int clamp = 0; clamp < 2; ++clamp) {
        const float lo = clamp ? 0.f : -std::numeric_limits<float>::infinity(), hi = clamp ? 6.f : -lo;
        std::vector<float> ga = ya, gb = yb;
        t->finish_rows(ga.data(), m, n, ldo, qb.data(), 128, wsum.data(), clamp ? nullptr : bias.data(), lo, hi);
        kernels::ref::finish_rows(gb.data(), m, n, ldo, qb.data(), 128, wsum.data(), clamp ? nullptr : bias.data(), lo,
                                  hi);
        for (size_t i = 0; i < ga.size(); ++i)  // bit for bit (signed zeros too); NaN payloads may differ
          CHECK((std::isnan(ga[i]) && std::isnan(gb[i])) || std::memcmp(&ga[i], &gb[i], 4) == 0);
        for (size_t c = 0; c < n; ++c) CHECK(std::isnan(gb[3 * ldo + c]) && std::isnan(gb[4 * ldo + c]));
      }
    }
  }
}
