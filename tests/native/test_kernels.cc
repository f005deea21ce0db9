// Every SIMD kernel of every variant this CPU runs (supported_tables(): the AVX2 / AVX-512 variants on x86-64,
// the NEON ones on aarch64) against its scalar reference on edge sizes (0, 1, odd, not a multiple of 4/8/16): bit-exact, except the exp-based activations.
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
  for (const kernels::Table* t : kernels::supported_tables()) {
    std::mt19937 rng(1);
    std::vector<uint8_t> buf(5000);
    for (auto& b : buf) b = uint8_t(rng());
    for (size_t off = 0; off < 9; ++off)
      for (size_t n : kSizes) {
        if (off + n > buf.size()) continue;
        CHECK(t->crc32c_update(~0u, buf.data() + off, n) == kernels::reference().crc32c_update(~0u, buf.data() + off, n));
      }
  }}

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
  for (const kernels::Table* t : kernels::supported_tables()) {
    t->f16_to_f32(h.data(), s.data(), h.size());
    CHECK(std::memcmp(r.data(), s.data(), r.size() * 4) == 0 || [&] {
      // NaN payloads may differ in the quiet bit between the instruction and the reference; the rest exactly.
      for (size_t i = 0; i < r.size(); ++i)
        if (!(std::isnan(r[i]) && std::isnan(s[i])) && std::memcmp(&r[i], &s[i], 4) != 0) return false;
      return true;
    }());
  }
}

TEST(dequant_simd_matches_reference) {
  for (const kernels::Table* t : kernels::supported_tables()) {
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
  }}

#include <atomic>

#include "compute/thread_pool.h"

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

#include <cstdlib>
#include <limits>

TEST(dispatch_picks_the_platform_table) {
  const kernels::Table& ref = kernels::reference();
  const std::vector<const kernels::Table*>& all = kernels::supported_tables();
  const kernels::Table* simd = kernels::simd_table();
  CHECK(simd == (all.empty() ? nullptr : all.front()));
  // Variant names are unique (they key the packed-weight cache) and name their table.
  for (size_t i = 0; i < all.size(); ++i) {
    CHECK(kernels::table_by_name(all[i]->name) == all[i]);
    CHECK(std::strcmp(all[i]->name, "ref") != 0);
    for (size_t j = 0; j < i; ++j) CHECK(std::strcmp(all[i]->name, all[j]->name) != 0);
    // Every variant names its GEMM tile's reference twin.
    CHECK(all[i]->f32_gemm_ref != nullptr && all[i]->f32_gemm_ref != all[i]->f32_gemm);
  }
  CHECK(kernels::table_by_name("ref") == &ref);
  CHECK(kernels::table_by_name("no-such-variant") == nullptr);
#if defined(__aarch64__)
  CHECK(kernels::cpu().neon);
  CHECK(simd != nullptr && std::strncmp(simd->name, "neon", 4) == 0);
  CHECK(kernels::table_by_name("avx2") == nullptr);
  // With the CRC32 instructions (qemu -cpu max and cortex-a72 have them) the best table uses them; with
  // dotprod (not on cortex-a72) its sdot kernels.
  if (simd) CHECK((simd->crc32c_update != ref.crc32c_update) == kernels::cpu().crc32);
  CHECK((kernels::table_by_name("neon-dot") != nullptr) == kernels::cpu().dotprod);
#elif defined(__x86_64__)
  CHECK(kernels::table_by_name("neon") == nullptr);
  CHECK((kernels::table_by_name("avx2") != nullptr) == kernels::cpu().avx2);
  CHECK((kernels::table_by_name("avx512-vnni") != nullptr) == (kernels::cpu().avx512vnni && kernels::cpu().avx512f &&
                                                             kernels::cpu().avx512bw && kernels::cpu().avx512dq &&
                                                             kernels::cpu().avx512vl && kernels::cpu().avx2));
#endif
  // PYRT_KERNELS=<variant> picks that variant; =ref the reference.
  const char* env = std::getenv("PYRT_KERNELS");
  const bool forced = env && std::strcmp(env, "ref") == 0;
  const kernels::Table* chosen = env && !forced && kernels::table_by_name(env) ? kernels::table_by_name(env) : simd;
  // The reference uses the chosen table's GEMM tile, so panels packed under one stay valid under the other.
  if (chosen) CHECK(chosen->f32_gemm_mr == ref.f32_gemm_mr && chosen->f32_gemm_nr == ref.f32_gemm_nr);
  CHECK(&kernels::active() == (forced || !chosen ? &ref : chosen));
  kernels::force_reference(true);
  CHECK(&kernels::active() == &ref);
  kernels::force_reference(forced);
}

namespace {

// Inputs for the elementwise tests: specials first (so that every SIMD lane position sees some), then
// random values over the ranges where the functions change (|x| < 1, up to +-20 and beyond exp's range).
std::vector<float> elementwise_inputs(size_t n, uint32_t seed, bool specials) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const float sp[] = {0.f, -0.f, 1.f, -1.f, 0.5f, -0.5f, 1e-3f, -1e-3f, 1e-30f, -1e-30f, 1e-40f, -1e-40f,
                      0.0625f, -0.0625f, 6.f, -3.f, 3.f, 87.f, -87.f, 88.5f, -88.5f, 100.f, -100.f,
                      -103.9f, 200.f, -200.f, inf, -inf, nan, -nan};
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> unit(-1.f, 1.f), wide(-20.f, 20.f), huge(-120.f, 120.f);
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) {
    const size_t ns = sizeof(sp) / sizeof(sp[0]);
    if (specials && i < ns) x[i] = sp[i];
    else x[i] = (i % 3 == 0) ? unit(rng) : (i % 3 == 1) ? wide(rng) : huge(rng);
  }
  return x;
}

bool same_float(float a, float b) { return std::memcmp(&a, &b, 4) == 0 || (std::isnan(a) && std::isnan(b)); }
// fmax/fmin (and so Clip, Max, Min) may return either zero for (-0, +0): C and IEEE 754 leave it open, and
// x86 glibc, MAXPS and FMAXNM differ. Everything else about them is exact.
bool same_float_any_zero(float a, float b) { return same_float(a, b) || (a == 0.f && b == 0.f); }

}  // namespace

TEST(unary_simd_matches_reference) {
  for (const kernels::Table* t : kernels::supported_tables()) {
    const kernels::Table& r = kernels::reference();
    struct Case {
      ActParams a;
      bool exact;  // bit-exact with the reference (NaN payloads aside)
    };
    const Case cases[] = {
        {{Act::kNone}, true},           {{Act::kRelu}, true},
        {{Act::kClip, -0.5f, 0.75f}, true}, {{Act::kClip, 0.f, 6.f}, true},
        {{Act::kLeakyRelu, 0.1f}, true}, {{Act::kNeg}, true},
        {{Act::kAbs}, true},            {{Act::kSqrt}, true},
        {{Act::kSigmoid}, false},       {{Act::kTanh}, false},
        {{Act::kSilu}, false},          {{Act::kExp}, false},
        {{Act::kHardSigmoid, 0.2f, 0.5f}, false}, {{Act::kHardSwish}, false},
        {{Act::kGelu}, false},          {{Act::kGeluTanh}, false},
    };
    for (const Case& c : cases) {
      double worst = 0;
      int bad = 0;
      for (size_t n : kSizes) {
        if (n == 0) {  // must not touch the buffers
          t->unary(c.a, nullptr, nullptr, 0);
          continue;
        }
        const std::vector<float> x = elementwise_inputs(n, uint32_t(n * 31 + int(c.a.act)), true);
        std::vector<float> want(n), got(n), inplace = x;
        r.unary(c.a, x.data(), want.data(), n);
        t->unary(c.a, x.data(), got.data(), n);
        t->unary(c.a, inplace.data(), inplace.data(), n);  // x == y is allowed
        for (size_t i = 0; i < n; ++i) {
          if (!same_float(got[i], inplace[i])) ++bad;
          if (c.exact || same_float(got[i], want[i])) {
            const bool same = c.a.act == Act::kClip ? same_float_any_zero(got[i], want[i]) : same_float(got[i], want[i]);
            if (!same && bad++ < 3)
              std::fprintf(stderr, "  act %d x=%.9g: got %.9g want %.9g\n", int(c.a.act), x[i], got[i], want[i]);
            continue;
          }
          // exp-based: 4e-6 relative (a few ulp; tanh's reference is itself ~1 ulp), or both below FLT_MIN
          // (sigmoid of -100 underflows differently), and NaN exactly where the reference has NaN.
          // hard_sigmoid / hard_swish: p0 x + p1 with or without FMA differs by ~1 ulp of p1, an absolute
          // error (relative is unbounded where the result crosses 0): 2 ulp of 1, times |x| for hard_swish.
          const double d = std::fabs(double(got[i]) - double(want[i]));
          const double rel = d / std::max(std::fabs(double(want[i])), 1e-30);
          const bool hard = c.a.act == Act::kHardSigmoid || c.a.act == Act::kHardSwish;
          const double abs_tol = hard ? 2.4e-7 * std::max(1.0, std::fabs(double(x[i]))) : 0.0;
          const bool ok = !std::isnan(got[i]) && !std::isnan(want[i]) &&
                          (rel <= 4e-6 || d <= abs_tol ||
                           (std::fabs(want[i]) < 1.2e-38f && std::fabs(got[i]) < 1.2e-38f));
          if (ok) {
            if (std::fabs(want[i]) >= 1.2e-38f && !hard) worst = std::max(worst, rel);
          } else if (bad++ < 3) {
            std::fprintf(stderr, "  act %d x=%.9g: got %.9g want %.9g\n", int(c.a.act), x[i], got[i], want[i]);
          }
        }
      }
      if (!c.exact && worst > 0)
        std::printf("  %s act %d: max relative difference %.2g\n", t->name, int(c.a.act), worst);
      CHECK(bad == 0);
    }
  }}

TEST(binary_simd_matches_reference) {
  for (const kernels::Table* t : kernels::supported_tables()) {
    const kernels::Table& r = kernels::reference();
    for (int op = kernels::kAdd; op <= kernels::kMin; ++op)
      for (size_t n : kSizes) {
        if (n == 0) continue;
        const std::vector<float> a = elementwise_inputs(n, uint32_t(n + 100 * op), true);
        std::vector<float> b = elementwise_inputs(n, uint32_t(n + 100 * op + 7), false);
        // Specials in b too, at other positions than in a (NaN/inf/zero against numbers and each other).
        for (size_t i = 0; i < n; i += 5) b[i] = a[(i * 7) % n];
        if (op == kernels::kPow)
          for (auto& v : b) v = std::nearbyint(std::fmod(v, 4.f));  // keep pow finite and meaningful
        for (size_t as : {0, 1})
          for (size_t bs : {0, 1}) {
            std::vector<float> want(n), got(n);
            r.binary(op, a.data(), as, b.data(), bs, want.data(), n);
            t->binary(op, a.data(), as, b.data(), bs, got.data(), n);
            int bad = 0;
            for (size_t i = 0; i < n; ++i)
              if (!(op >= kernels::kMax ? same_float_any_zero(got[i], want[i]) : same_float(got[i], want[i])) &&
                  bad++ < 3)
                std::fprintf(stderr, "  op %d a=%.9g b=%.9g: got %.9g want %.9g\n", op, a[i * as], b[i * bs],
                             got[i], want[i]);
            CHECK(bad == 0);
          }
      }
  }}

TEST(dwconv_simd_matches_reference) {
  // every SIMD table the CPU has (AVX-512 and AVX2 have their own depthwise kernels)
  for (const pyrt::kernels::Table* t :
       pyrt::kernels::supported_tables()) {
  if (!t) continue;
  std::mt19937 rng(7);
  for (int rep = 0; rep < 400; ++rep) {
    pyrt::kernels::DwConvParams p;
    p.kh = 1 + rng() % 5, p.kw = 1 + rng() % 5, p.sh = 1 + rng() % 3, p.sw = 1 + rng() % 3;
    p.dh = 1 + rng() % 2, p.dw = 1 + rng() % 2, p.h = 1 + rng() % 20, p.w = 1 + rng() % 37;
    if (rep % 4 == 0) p.sw = 2, p.w = 24 + rng() % 100;  // wide stride-2 rows: the vector deinterleave
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
}

TEST(dwconv_nhwc_simd_matches_reference) {
  // channels-last depthwise: channel counts around every ISA's lane and block widths, border and interior
  // pixel groups, strides, dilations; every SIMD table the CPU has, fused ReLU6 or none
  for (const pyrt::kernels::Table* t :
       pyrt::kernels::supported_tables()) {
    if (!t) continue;
    std::mt19937 rng(11);
    for (int rep = 0; rep < 300; ++rep) {
      pyrt::kernels::DwNhwcParams p;
      p.c = 1 + rng() % 80, p.kh = 1 + rng() % 5, p.kw = 1 + rng() % 5, p.sh = 1 + rng() % 2, p.sw = 1 + rng() % 2;
      p.dh = 1 + rng() % 2, p.dw = 1 + rng() % 2, p.h = 1 + rng() % 12, p.w = 1 + rng() % 20;
      p.pt = rng() % 3, p.pl = rng() % 3;
      const int64_t pb = rng() % 3, pr = rng() % 3;
      const int64_t eh = (p.kh - 1) * p.dh + 1, ew = (p.kw - 1) * p.dw + 1;
      if (p.h + p.pt + pb < eh || p.w + p.pl + pr < ew) continue;
      p.oh = (p.h + p.pt + pb - eh) / p.sh + 1, p.ow = (p.w + p.pl + pr - ew) / p.sw + 1;
      p.cb = 0, p.ce = p.c;
      if (rep % 5 == 4) p.cb = rng() % p.c, p.ce = p.cb + 1 + rng() % (p.c - p.cb);  // a channel range only
      std::vector<float> x(size_t(p.h * p.w * p.c)), w(size_t(p.kh * p.kw * p.c)), bias(size_t(p.c));
      std::vector<float> a(size_t(p.oh * p.ow * p.c), 7.f), b(a.size(), 7.f);  // untouched channels stay 7
      for (auto& v : x) v = float(int(rng() % 2001) - 1000) / 317.f;
      for (auto& v : w) v = float(int(rng() % 2001) - 1000) / 511.f;
      for (auto& v : bias) v = float(int(rng() % 2001) - 1000) / 1000.f;
      pyrt::ActParams act;
      if (rep % 2) act = {pyrt::Act::kClip, 0.f, 6.f};
      const int64_t split = p.oh / 2;  // two calls over row ranges, as threads do
      for (const pyrt::kernels::Table* k : {&pyrt::kernels::reference(), t}) {
        float* out = k == t ? b.data() : a.data();
        k->dwconv_nhwc(p, x.data(), w.data(), rep % 3 ? bias.data() : nullptr, act, out, 0, split);
        k->dwconv_nhwc(p, x.data(), w.data(), rep % 3 ? bias.data() : nullptr, act, out, split, p.oh);
      }
      if (std::memcmp(a.data(), b.data(), a.size() * 4) != 0) {
        size_t i = 0;
        while (std::memcmp(&a[i], &b[i], 4) == 0) ++i;
        std::fprintf(stderr, "  %s c=%lld k=%lldx%lld s=%lld,%lld d=%lld,%lld hw=%lldx%lld pads=%lld,%lld out=%lldx%lld: "
                     "element %zu got %.9g want %.9g\n", t->name, (long long)p.c, (long long)p.kh, (long long)p.kw,
                     (long long)p.sh, (long long)p.sw, (long long)p.dh, (long long)p.dw, (long long)p.h, (long long)p.w,
                     (long long)p.pt, (long long)p.pl, (long long)p.oh, (long long)p.ow, i, b[i], a[i]);
        CHECK(false);
      }
    }
  }
}


// Whether got and want hold the same bits; if not, prints the first element that differs, after `what`.
static bool same_bits(const std::vector<float>& got, const std::vector<float>& want, const char* what) {
  for (size_t i = 0; i < got.size(); ++i)
    if (std::memcmp(&got[i], &want[i], 4)) {
      std::fprintf(stderr, "  %s at %zu: got %.9g want %.9g\n", what, i, got[i], want[i]);
      return false;
    }
  return got.size() == want.size();
}


TEST(gemm_i4_matches_gemv_rows_and_row_quantizer_matches_reference) {
  // The int4 GEMM is the GEMV of every row, bit for bit (same sums, same order), on the table's prepacked layout
  // or the file's nibbles; its row quantizer gives the reference's bytes, scales and sums (plain k order, or the
  // GEMV's chunk order for tables with i4_rows_chunked), NaN and infinity included.
  using namespace pyrt::kernels;
  std::mt19937 rng(11);
  for (const Table* t : pyrt::kernels::supported_tables()) {
    if (!t) continue;
    for (int rep = 0; rep < 60; ++rep) {
      const size_t group = size_t(16) << (rng() % 4), n = 1 + rng() % 53, rows = 1 + rng() % 20;
      const size_t k = 1 + rng() % (6 * group), ng = (k + group - 1) / group, kq = ng * group;
      std::vector<float> x(rows * (k + 3));
      for (auto& v : x) v = float(int(rng() % 2001) - 1000) / 97.f;
      if (rep % 7 == 3) x[rng() % x.size()] = NAN;
      if (rep % 7 == 5) x[rng() % x.size()] = INFINITY;
      std::vector<int8_t> q(rows * kq, 99), qr(rows * kq, 98);
      std::vector<float> s(rows * ng), sr(rows * ng);
      std::vector<int32_t> sum(rows * ng), sumr(rows * ng);
      t->quantize_i8_rows(x.data(), k + 3, rows, k, group, q.data(), s.data(), sum.data());
      (t->i4_rows_chunked ? quantize_i8_rows_chunked : quantize_i8_rows)(x.data(), k + 3, rows, k, group, qr.data(),
                                                                         sr.data(), sumr.data());
      CHECK(q == qr && sum == sumr && std::memcmp(s.data(), sr.data(), s.size() * 4) == 0);
      for (size_t m = 0; m < rows; ++m) {  // the GEMV's quantizer: the same values, chunk-deinterleaved
        std::vector<int8_t> g1(kq);
        std::vector<float> gs(ng);
        std::vector<int32_t> gsum(ng);
        quantize_i8_groups(x.data() + m * (k + 3), k, group, g1.data(), gs.data(), gsum.data());
        for (size_t i = 0; i < kq; ++i)
          CHECK(g1[t->i4_rows_chunked ? i : i / group * group + i4_slot(i % group, i4_chunk(group))] == q[m * kq + i]);
        for (size_t g = 0; g < ng; ++g) CHECK(sum[m * ng + g] == -8 * gsum[g] && s[m * ng + g] == gs[g]);
      }
      if (!t->gemm_i4) continue;
      std::vector<uint8_t> w4(n * kq / 2);
      for (auto& v : w4) v = uint8_t(rng());
      std::vector<uint16_t> s16(n * ng);
      for (auto& v : s16) v = uint16_t(0x3000 + rng() % 0x0C00);
      std::vector<float> s32(n * ng), bias(n);
      for (auto& v : s32) v = float(1 + rng() % 1000) / 4096.f;
      for (auto& v : bias) v = float(int(rng() % 200) - 100) / 10.f;
      const bool f16 = rep % 2;
      I4Matrix w{w4.data(), f16 ? static_cast<const void*>(s16.data()) : s32.data(), f16, n, k, group, ng};
      std::vector<uint8_t> pk(t->i4_pack ? t->i4_pack_size(w) + 64 : 0);
      if (t->i4_pack) {
        w.packed = pk.data() + (64 - reinterpret_cast<uintptr_t>(pk.data()) % 64) % 64;
        t->i4_pack(w, const_cast<uint8_t*>(w.packed));
      }
      const float* b = rep % 3 ? bias.data() : nullptr;
      const size_t ldy = n + 2, mid = 16 * (rng() % ((n + 15) / 16 + 1));
      std::vector<float> got(rows * ldy, 5.f), want(rows * ldy, 5.f);
      const I8Rows xr{q.data(), s.data(), sum.data(), rows};
      t->gemm_i4(w, xr, b, got.data(), ldy, 0, std::min(mid, n));
      t->gemm_i4(w, xr, b, got.data(), ldy, std::min(mid, n), n);
      for (size_t m = 0; m < rows; ++m) {
        std::vector<int8_t> g1(kq);
        std::vector<float> gs(ng);
        std::vector<int32_t> gsum(ng);
        quantize_i8_groups(x.data() + m * (k + 3), k, group, g1.data(), gs.data(), gsum.data());
        t->gemv_i4(w, I8Groups{g1.data(), gs.data(), gsum.data()}, b, want.data() + m * ldy, 0, n);
      }
      char what[128];
      std::snprintf(what, sizeof what, "%s rows=%zu n=%zu k=%zu group=%zu", t->name, rows, n, k, group);
      CHECK(same_bits(got, want, what));
    }
  }
}


TEST(gemm_lut4_matches_reference) {
  // The shared-values lookup GEMM on 4-bit codes: every table that has one against the reference, bit for bit
  // (exact int32 sums, the same float finish): k even from 2 to past several 128-value chunks (a masked last
  // chunk), 1 to 3 rows (the lookups straight into the products) and more (the panel, 8/4/2/1-row tails), over
  // column ranges with column tails, with and without bias and clamps, rows with NaN (scale NaN), any zero point.
  using namespace pyrt::kernels;
  std::mt19937 rng(19);
  for (const Table* t : pyrt::kernels::supported_tables()) {
    if (!t || !t->gemm_lut4) continue;
    for (int rep = 0; rep < 150; ++rep) {
      const size_t n = 1 + rng() % 41, k = 2 * (1 + rng() % (rep % 5 == 0 ? 600 : 90));
      const size_t rows = rep % 3 == 0 ? 1 + rng() % 3 : 1 + rng() % 23;
      const size_t ldx = (k + 3) / 4 * 4 + (rep % 2 ? 4 * (rng() % 40) : 0);
      std::vector<uint8_t> codes(n * k / 2 + 7);
      for (auto& v : codes) v = uint8_t(rng());
      std::vector<int8_t> table(n * 16);
      for (auto& v : table) v = int8_t(int(rng() % 255) - 127);
      std::vector<float> scale(n), bias(n);
      for (auto& v : scale) v = float(1 + rng() % 1000) / 8192.f;
      for (auto& v : bias) v = float(int(rng() % 200) - 100) / 10.f;
      std::vector<int32_t> wsum(n);
      for (size_t r = 0; r < n; ++r)
        for (size_t i = 0; i < k; ++i) wsum[r] += table[r * 16 + ((codes[r * k / 2 + i / 2] >> (i % 2 * 4)) & 15)];
      const Lut4Matrix w{codes.data(), table.data(), scale.data(), wsum.data(), n, k};
      std::vector<uint8_t> x(rows * ldx, 0);
      std::vector<QParams> q(rows);
      for (size_t m = 0; m < rows; ++m) {
        for (size_t i = 0; i < k; ++i) x[m * ldx + i] = uint8_t(rng());
        q[m] = {float(1 + rng() % 500) / 1024.f, int32_t(rng() % 256)};
        if (rep % 11 == 4 && m == rows / 2) q[m].scale = NAN;
      }
      const std::vector<uint8_t> xo = x;
      const float* b = rep % 4 ? bias.data() : nullptr;
      const float lo = rep % 3 == 1 ? 0.f : -INFINITY, hi = rep % 6 == 1 ? 2.f : INFINITY;
      const size_t ldy = n + 3, mid = rng() % (n + 1);
      std::vector<float> got(rows * ldy, 5.f), want(rows * ldy, 5.f);
      t->gemm_lut4(w, xo.data(), ldx, q.data(), rows, b, lo, hi, got.data(), ldy, 0, mid);
      t->gemm_lut4(w, xo.data(), ldx, q.data(), rows, b, lo, hi, got.data(), ldy, mid, n);
      ref::gemm_lut4(w, x.data(), ldx, q.data(), rows, b, lo, hi, want.data(), ldy, 0, n);
      char what[128];
      std::snprintf(what, sizeof what, "%s rows=%zu n=%zu k=%zu", t->name, rows, n, k);
      CHECK(same_bits(got, want, what));
    }
  }
}


TEST(gemv_i4_simd_matches_reference) {
  // int4 x int8 GEMV: every SIMD table against the reference on odd sizes, groups 16..128, f16 and f32 scales,
  // a k that leaves the last group padded, with and without bias, over row ranges. Integer products are
  // exact; partial sums are scaled and added in float in an ISA-specific order, so the bound is relative to
  // the sum of the absolute products (1e-5 of it).
  using namespace pyrt::kernels;
  std::mt19937 rng(5);
  for (const Table* t : pyrt::kernels::supported_tables()) {
    if (!t) continue;
    for (int rep = 0; rep < 120; ++rep) {
      const size_t group = size_t(16) << (rng() % 4), n = 1 + rng() % 37;
      const size_t k = 1 + rng() % ((rep % 4 == 0 ? 40 : 5) * group), ng = (k + group - 1) / group;  // past 16-group blocks too
      std::vector<uint8_t> q(n * ng * group / 2);
      for (auto& v : q) v = uint8_t(rng());
      const bool f16 = rep % 2;
      std::vector<uint16_t> s16(n * ng);
      std::vector<float> s32(n * ng);
      for (size_t i = 0; i < n * ng; ++i) {
        s32[i] = float(1 + rng() % 1000) / 4096.f;   // exactly representable in f16 too
        s16[i] = uint16_t(0x3000 + rng() % 0x0C00);   // f16 scales in [0.125, 1)
      }
      std::vector<float> x(k), bias(n);
      for (auto& v : x) v = float(int(rng() % 2001) - 1000) / 97.f;
      for (auto& v : bias) v = float(int(rng() % 200) - 100) / 10.f;
      std::vector<int8_t> xq(ng * group);
      std::vector<float> xs(ng);
      std::vector<int32_t> xsum(ng);
      quantize_i8_groups(x.data(), k, group, xq.data(), xs.data(), xsum.data());
      const size_t chunk = i4_chunk(group);
      auto xat = [&](size_t i) { return xq[i / group * group + i4_slot(i % group, chunk)]; };  // value i
      for (size_t i = 0; i < k; ++i) CHECK(std::fabs(xat(i) * xs[i / group] - x[i]) <= 0.5001f * xs[i / group]);
      for (size_t i = k; i < ng * group; ++i) CHECK(xat(i) == 0);
      const I4Matrix w{q.data(), f16 ? static_cast<const void*>(s16.data()) : s32.data(), f16, n, k, group, ng};
      const I8Groups xg{xq.data(), xs.data(), xsum.data()};
      const float* b = rep % 3 ? bias.data() : nullptr;
      std::vector<float> want(n), got(n);
      reference().gemv_i4(w, xg, b, want.data(), 0, n);
      const size_t mid = n / 3;
      t->gemv_i4(w, xg, b, got.data(), 0, mid);
      t->gemv_i4(w, xg, b, got.data(), mid, n);
      std::vector<float> got_packed(n, 7.f);
      std::vector<uint8_t> pk;
      if (t->i4_pack) {  // the table's prepacked layout: same sums (its own float order)
        pk.resize(t->i4_pack_size(w) + 64);
        I4Matrix wp = w;
        wp.packed = pk.data() + (64 - reinterpret_cast<uintptr_t>(pk.data()) % 64) % 64;
        t->i4_pack(w, const_cast<uint8_t*>(wp.packed));
        t->gemv_i4(wp, xg, b, got_packed.data(), 0, mid);
        t->gemv_i4(wp, xg, b, got_packed.data(), mid, n);
      }
      for (size_t r = 0; r < n; ++r) {
        double mag = std::fabs(b ? b[r] : 0.f);
        for (size_t g = 0; g < ng; ++g) {
          int32_t abs_dot = 0;
          for (size_t i = 0; i < group; ++i) {
            const size_t e = (r * ng + g) * group + i;
            abs_dot += std::abs(((int32_t((q[e >> 1] >> ((e & 1) * 4)) & 0xF) ^ 8) - 8) * xat(g * group + i));
          }
          const float ws = f16 ? ref::f16_to_f32_one(s16[r * ng + g]) : s32[r * ng + g];
          mag += double(abs_dot) * ws * xs[g];
        }
        if (!(std::fabs(double(got[r]) - want[r]) <= 1e-5 * mag + 1e-6) ||
            (t->i4_pack && !(std::fabs(double(got_packed[r]) - want[r]) <= 1e-5 * mag + 1e-6))) {
          std::fprintf(stderr, "  %s n=%zu k=%zu group=%zu row %zu: got %.9g (packed %.9g) want %.9g\n", t->name, n, k,
                       group, r, got[r], got_packed[r], want[r]);
          CHECK(false);
          break;
        }
      }
    }
  }
}

// Attention over a KV cache: scores and value sums on head sizes around the vector widths and cache lengths
// around the 4-key unroll, rows `ld` apart (the cache's capacity stride). Sums in another order: a tolerance.
TEST(attention_simd_matches_reference) {
  for (const kernels::Table* t : kernels::supported_tables()) {
    const kernels::Table& r = kernels::reference();
    std::mt19937 rng(11);
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    for (size_t d : {1, 3, 4, 8, 15, 16, 17, 32, 33, 64, 80, 128})
      for (size_t n : {1, 2, 3, 4, 5, 9, 64, 129}) {
        const size_t ld = d + 5;
        std::vector<float> q(d), kv(n * ld), p(n);
        for (auto& v : q) v = u(rng);
        for (auto& v : kv) v = u(rng);
        for (auto& v : p) v = std::fabs(u(rng)) / float(n);
        std::vector<float> s0(n), s1(n), o0(d), o1(d, 7.f);
        r.attn_scores(q.data(), kv.data(), ld, n, d, 0.125f, s0.data());
        t->attn_scores(q.data(), kv.data(), ld, n, d, 0.125f, s1.data());
        r.attn_values(p.data(), kv.data(), ld, n, d, o0.data());
        t->attn_values(p.data(), kv.data(), ld, n, d, o1.data());
        for (size_t j = 0; j < n; ++j) CHECK(std::fabs(s0[j] - s1[j]) <= 1e-5f * (1.f + float(d) / 8));
        for (size_t i = 0; i < d; ++i) CHECK(std::fabs(o0[i] - o1[i]) <= 1e-5f);
        // the f16 cache: the same products on the widened values
        std::vector<uint16_t> kv16(kv.size());
        for (size_t i = 0; i < kv.size(); ++i) kv16[i] = kernels::ref::f32_to_f16_one(kv[i]);
        r.attn_scores_f16(q.data(), kv16.data(), ld, n, d, 0.125f, s0.data());
        t->attn_scores_f16(q.data(), kv16.data(), ld, n, d, 0.125f, s1.data());
        r.attn_values_f16(p.data(), kv16.data(), ld, n, d, o0.data());
        t->attn_values_f16(p.data(), kv16.data(), ld, n, d, o1.data());
        for (size_t j = 0; j < n; ++j) CHECK(std::fabs(s0[j] - s1[j]) <= 1e-5f * (1.f + float(d) / 8));
        for (size_t i = 0; i < d; ++i) CHECK(std::fabs(o0[i] - o1[i]) <= 1e-5f);
        // the i8 cache: integer rows with a scale each (the products are exact; sums in another order)
        std::vector<int8_t> kv8(kv.size());
        std::vector<float> rs(n);
        for (size_t i = 0; i < kv.size(); ++i) kv8[i] = int8_t(std::lrint(kv[i] * 127.f));
        for (auto& v : rs) v = (0.5f + std::fabs(u(rng))) / 127.f;
        r.attn_scores_i8(q.data(), kv8.data(), rs.data(), ld, n, d, 0.125f, s0.data());
        t->attn_scores_i8(q.data(), kv8.data(), rs.data(), ld, n, d, 0.125f, s1.data());
        r.attn_values_i8(p.data(), kv8.data(), rs.data(), ld, n, d, o0.data());
        t->attn_values_i8(p.data(), kv8.data(), rs.data(), ld, n, d, o1.data());
        for (size_t j = 0; j < n; ++j) CHECK(std::fabs(s0[j] - s1[j]) <= 2e-5f * (1.f + float(d) / 8));
        for (size_t i = 0; i < d; ++i) CHECK(std::fabs(o0[i] - o1[i]) <= 2e-5f);
        if (d == 3 && n == 2) {  // the scales enter as the spec says: one row against a hand sum
          const float want = 0.125f * (q[0] * kv8[ld] + q[1] * kv8[ld + 1] + q[2] * kv8[ld + 2]) * rs[1];
          CHECK(std::fabs(s1[1] - want) <= 1e-5f * (1.f + std::fabs(want)));
        }
      }
  }}

// f32 -> f16 rounds to nearest even: every f16 value comes back unchanged, the midpoint between two
// neighbours goes to the even one, and what lies past the largest finite value's midpoint becomes inf.
TEST(f32_to_f16_rounds_to_nearest_even) {
  for (uint32_t h = 0; h < 0x10000u; ++h) {
    const float f = kernels::ref::f16_to_f32_one(uint16_t(h));
    if (std::isnan(f)) {
      CHECK(std::isnan(kernels::ref::f16_to_f32_one(kernels::ref::f32_to_f16_one(f))));
      continue;
    }
    CHECK(kernels::ref::f32_to_f16_one(f) == h);
    if ((h & 0x7FFFu) >= 0x7BFFu) continue;  // the next value up is inf
    const float next = kernels::ref::f16_to_f32_one(uint16_t(h + 1));
    const float mid = float((double(f) + double(next)) / 2);  // exact in f32
    CHECK(kernels::ref::f32_to_f16_one(mid) == ((h & 1u) ? h + 1 : h));
    CHECK(kernels::ref::f32_to_f16_one(std::nextafter(mid, next)) == h + 1);
    CHECK(kernels::ref::f32_to_f16_one(std::nextafter(mid, f)) == h);
  }
  CHECK(kernels::ref::f32_to_f16_one(65519.99f) == 0x7BFFu);
  CHECK(kernels::ref::f32_to_f16_one(65520.f) == 0x7C00u);
  CHECK(kernels::ref::f32_to_f16_one(-1e30f) == 0xFC00u);
}
