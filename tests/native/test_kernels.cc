// Every SIMD kernel against its scalar reference: bit-exact, on edge sizes (0, 1, odd, not a multiple of 8).
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "format/crc32c.h"
#include "harness.h"
#include "kernels/dispatch.h"
#include "kernels/ref/ref.h"

using namespace pyrt;

static const size_t kSizes[] = {0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 64, 100, 1000, 4097};

TEST(crc32c_check_value) {
  CHECK(crc32c("123456789", 9) == 0xE3069283u);
  CHECK(crc32c("", 0) == 0u);
  CHECK(~kernels::reference().crc32c_update(~0u, reinterpret_cast<const uint8_t*>("123456789"), 9) == 0xE3069283u);
}

TEST(crc32c_simd_matches_reference) {
  const kernels::Table* t = kernels::avx2_table();
  if (!t) return;
  std::mt19937 rng(1);
  std::vector<uint8_t> buf(5000);
  for (auto& b : buf) b = uint8_t(rng());
  for (size_t off = 0; off < 9; ++off)
    for (size_t n : kSizes) {
      if (off + n > buf.size()) continue;
      CHECK(t->crc32c_update(~0u, buf.data() + off, n) == kernels::reference().crc32c_update(~0u, buf.data() + off, n));
    }
}

TEST(f16_all_values) {
  // All 65536 halves: reference against the exact value computed from the fields.
  std::vector<uint16_t> h(65536);
  for (uint32_t i = 0; i < 65536; ++i) h[i] = uint16_t(i);
  std::vector<float> r(65536), s(65536);
  kernels::reference().f16_to_f32(h.data(), r.data(), h.size());
  for (uint32_t i = 0; i < 65536; ++i) {
    const int e = (i >> 10) & 31, m = i & 1023;
    const double sign = (i & 0x8000) ? -1.0 : 1.0;
    if (e == 31) {
      CHECK(m ? std::isnan(r[i]) : (std::isinf(r[i]) && (r[i] < 0) == bool(i & 0x8000)));
    } else {
      const double v = sign * (e ? std::ldexp(1.0 + m / 1024.0, e - 15) : std::ldexp(m / 1024.0, -14));
      CHECK(double(r[i]) == v);
      CHECK(std::signbit(r[i]) == bool(i & 0x8000));
    }
  }
  if (const kernels::Table* t = kernels::avx2_table()) {
    t->f16_to_f32(h.data(), s.data(), h.size());
    CHECK(std::memcmp(r.data(), s.data(), r.size() * 4) == 0 || [&] {
      // NaN payloads may differ in the quiet bit between F16C and the reference; compare the rest exactly.
      for (size_t i = 0; i < r.size(); ++i)
        if (!(std::isnan(r[i]) && std::isnan(s[i])) && std::memcmp(&r[i], &s[i], 4) != 0) return false;
      return true;
    }());
  }
}

TEST(dequant_simd_matches_reference) {
  const kernels::Table* t = kernels::avx2_table();
  if (!t) return;
  std::mt19937 rng(2);
  for (size_t n : kSizes) {
    if (n == 0) continue;  // memcmp on empty vectors would pass null pointers
    std::vector<int8_t> q(n);
    for (auto& v : q) v = int8_t(rng());
    const int32_t zp = int32_t(rng() % 256) - 128;
    const float s = 0.01f + float(rng() % 1000) / 997.0f;
    std::vector<float> a(n), b(n);
    kernels::reference().dequant_i8(q.data(), n, zp, s, a.data());
    t->dequant_i8(q.data(), n, zp, s, b.data());
    CHECK(std::memcmp(a.data(), b.data(), n * 4) == 0);
    const size_t n2 = n & ~size_t(1);
    std::vector<uint8_t> packed(n2 / 2 + 1);
    for (auto& v : packed) v = uint8_t(rng());
    for (int sg = 0; sg < 2; ++sg) {
      const int32_t z = int32_t(rng() % 16);
      kernels::reference().dequant_i4(packed.data(), n2, sg, z, s, a.data());
      t->dequant_i4(packed.data(), n2, sg, z, s, b.data());
      CHECK(std::memcmp(a.data(), b.data(), n2 * 4) == 0);
    }
  }
}

#include <atomic>

#include "core/thread_pool.h"

TEST(thread_pool_covers_range_once) {
  for (int threads : {1, 2, 3, 8}) {
    pyrt::ThreadPool pool(threads);
    for (size_t n : {size_t(0), size_t(1), size_t(5), size_t(1000)}) {
      std::vector<std::atomic<int>> hits(n);
      for (int rep = 0; rep < 50; ++rep)
        pool.parallel_for(n, 1, [&](size_t b, size_t e, int t) {
          CHECK(t >= 0 && t < pool.size());
          for (size_t i = b; i < e; ++i) hits[i]++;
        });
      for (size_t i = 0; i < n; ++i) CHECK(hits[i] == 50);
    }
  }
}

TEST(dwconv_simd_matches_reference) {
  const pyrt::kernels::Table* t = pyrt::kernels::avx2_table();
  if (!t) return;
  std::mt19937 rng(7);
  for (int rep = 0; rep < 300; ++rep) {
    pyrt::kernels::DwConvParams p;
    p.kh = 1 + rng() % 5, p.kw = 1 + rng() % 5, p.sh = 1 + rng() % 3, p.sw = 1 + rng() % 3;
    p.dh = 1 + rng() % 2, p.dw = 1 + rng() % 2, p.h = 1 + rng() % 20, p.w = 1 + rng() % 37;
    p.pt = rng() % 3, p.pl = rng() % 3;
    const int64_t pb = rng() % 3, pr = rng() % 3;
    const int64_t eh = (p.kh - 1) * p.dh + 1, ew = (p.kw - 1) * p.dw + 1;
    if (p.h + p.pt + pb < eh || p.w + p.pl + pr < ew) continue;
    p.oh = (p.h + p.pt + pb - eh) / p.sh + 1, p.ow = (p.w + p.pl + pr - ew) / p.sw + 1;
    std::vector<float> x(size_t(p.h * p.w)), w(size_t(p.kh * p.kw)), a(size_t(p.oh * p.ow)), b(a.size());
    for (auto& v : x) v = float(int(rng() % 2001) - 1000) / 317.f;
    for (auto& v : w) v = float(int(rng() % 2001) - 1000) / 511.f;
    std::vector<float> scratch(pyrt::kernels::dwconv_scratch_floats(p));
    pyrt::kernels::reference().dwconv(p, x.data(), w.data(), 0.25f, a.data(), scratch.data());
    t->dwconv(p, x.data(), w.data(), 0.25f, b.data(), scratch.data());
    CHECK(std::memcmp(a.data(), b.data(), a.size() * 4) == 0);
  }
}
