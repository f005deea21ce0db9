// fp32 GEMM: every entry point (plain with each transpose, packed A, packed B) and fused epilogue against a
// naive double-precision triple loop, on edge sizes (1, odd, not multiples of 6/16, K = 0/1, past the
// MC/KC/NC blocks) with 1, 2 and 3 threads. Every SIMD table the CPU has (AVX-512 14x32, AVX2 6x16 or NEON 8x12,
// each forced in turn) and the reference must agree bit for bit, results must not depend on the thread count, and
// operands packed under one table must give the same bits under any other (different tiles).
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "compute/thread_pool.h"
#include "harness.h"
#include "kernels/dispatch.h"
#include "compute/gemm.h"

using namespace pyrt;

namespace {

enum class Path { kPlain, kPackedA, kPackedB };

struct Problem {
  size_t M, N, K;
  bool ta, tb;  // sources stored transposed (plain: both; packed A: ta; packed B: tb)
  std::vector<float> a, b, bias;
  size_t lda, ldb, ldc;
  float A(size_t i, size_t k) const { return ta ? a[k * lda + i] : a[i * lda + k]; }
  float B(size_t k, size_t j) const { return tb ? b[j * ldb + k] : b[k * ldb + j]; }
};

Problem make(size_t M, size_t N, size_t K, bool ta, bool tb, uint32_t seed) {
  Problem p{M, N, K, ta, tb, {}, {}, {}, 0, 0, N + 3};
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  p.lda = ta ? M + 2 : K + 1;  // leading dims larger than the rows: strides are honoured
  p.ldb = tb ? K + 3 : N + 1;
  p.a.resize((ta ? K : M) * p.lda + 1);
  p.b.resize((tb ? N : K) * p.ldb + 1);
  p.bias.resize(std::max(M, N));
  for (auto& x : p.a) x = u(rng);
  for (auto& x : p.b) x = u(rng);
  for (auto& x : p.bias) x = u(rng);
  return p;
}

const float kSentinel = 12345.f;

// The variants this CPU runs with distinct f32 GEMM kernels, best first (variants that differ elsewhere share
// their GEMM: testing it once per kernel is enough).
std::vector<const kernels::Table*> simd_tables() {
  std::vector<const kernels::Table*> v;
  for (const kernels::Table* t : kernels::supported_tables()) {
    bool seen = false;
    for (const kernels::Table* u : v) seen = seen || (u->f32_gemm == t->f32_gemm && u->f32_gemm_ua == t->f32_gemm_ua);
    if (!seen) v.push_back(t);
  }
  return v;
}

// Packs (packed paths) and runs under table `kt`; run_under, if set, runs the product (packed under kt).
std::vector<float> compute(const kernels::Table& kt, const Problem& p, Path path, const gemm::Epilogue& ep,
                           ThreadPool* pool, const kernels::Table* run_under = nullptr) {
  const kernels::Table& rt = run_under ? *run_under : kt;
  std::vector<float> c(std::max<size_t>(1, p.M * p.ldc), kSentinel);
  const int threads = pool ? pool->size() : 1;
  const gemm::Prepacked pre =
      path == Path::kPackedA ? gemm::Prepacked::kA : path == Path::kPackedB ? gemm::Prepacked::kB : gemm::Prepacked::kNone;
  // One byte off: the driver must align the workspace itself.
  std::vector<unsigned char> ws(gemm::workspace_size(p.M, p.N, p.K, threads, pre) + 1);
  switch (path) {
    case Path::kPlain:
      gemm::gemm(rt, p.a.data(), p.lda, p.ta, p.b.data(), p.ldb, p.tb, p.M, p.N, p.K, c.data(), p.ldc, ep, pool,
                 ws.data() + 1);
      break;
    case Path::kPackedA: {
      const gemm::PackedA pa = gemm::pack_a(kt, p.a.data(), p.lda, p.ta, p.M, p.K);
      gemm::gemm_packed_a(rt, pa, p.b.data(), p.ldb, p.N, c.data(), p.ldc, ep, pool, ws.data() + 1);
      break;
    }
    case Path::kPackedB: {
      const gemm::PackedB pb = gemm::pack_b(kt, p.b.data(), p.ldb, p.tb, p.K, p.N);
      gemm::gemm_packed_b(rt, p.a.data(), p.lda, p.M, pb, c.data(), p.ldc, ep, pool, ws.data() + 1);
      break;
    }
  }
  return c;
}

double act(double x, const ActParams& a) {
  switch (a.act) {
    case Act::kRelu: return x > 0 ? x : 0;
    case Act::kClip: return std::min(std::max(x, double(a.p0)), double(a.p1));
    case Act::kLeakyRelu: return x < 0 ? x * a.p0 : x;
    default: return x;
  }
}

// Against the double triple loop; |err| <= ~K ulp of sum |a||b| (FMA chains round once per step).
bool matches_naive(const Problem& p, const gemm::Epilogue& ep, const std::vector<float>& c) {
  int bad = 0;
  for (size_t i = 0; i < p.M; ++i) {
    for (size_t j = 0; j < p.N; ++j) {
      double s = 0, abs_s = 0;
      for (size_t k = 0; k < p.K; ++k) {
        const double t = double(p.A(i, k)) * double(p.B(k, j));
        s += t;
        abs_s += std::fabs(t);
      }
      if (ep.bias_kind == gemm::Epilogue::kPerRow) s += ep.bias[i], abs_s += std::fabs(ep.bias[i]);
      if (ep.bias_kind == gemm::Epilogue::kPerCol) s += ep.bias[j], abs_s += std::fabs(ep.bias[j]);
      const double want = act(s, ep.act);
      const double tol = 1.2e-7 * double(p.K + 2) * abs_s + 1e-30;
      const float got = c[i * p.ldc + j];
      if (!(std::fabs(double(got) - want) <= tol) && bad++ < 3)
        std::fprintf(stderr, "  C[%zu,%zu] = %.9g, want %.9g (M=%zu N=%zu K=%zu)\n", i, j, got, want, p.M, p.N, p.K);
    }
    for (size_t j = p.N; j < p.ldc; ++j)
      if (c[i * p.ldc + j] != kSentinel && bad++ < 3) std::fprintf(stderr, "  wrote past N at row %zu\n", i);
  }
  return bad == 0;
}

bool same_bits(const std::vector<float>& x, const std::vector<float>& y) {
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

gemm::Epilogue epilogue(int which, const Problem& p) {
  gemm::Epilogue ep;
  switch (which % 5) {
    case 0: break;
    case 1: ep.bias = p.bias.data(), ep.bias_kind = gemm::Epilogue::kPerRow, ep.act.act = Act::kRelu; break;
    case 2: ep.bias = p.bias.data(), ep.bias_kind = gemm::Epilogue::kPerCol, ep.act = {Act::kClip, -0.5f, 0.75f}; break;
    case 3: ep.act = {Act::kLeakyRelu, 0.1f, 0.f}; break;
    case 4: ep.bias = p.bias.data(), ep.bias_kind = gemm::Epilogue::kPerCol, ep.act.act = Act::kRelu; break;
  }
  return ep;
}

ThreadPool& pool2() {
  static ThreadPool p(2);
  return p;
}
ThreadPool& pool3() {
  static ThreadPool p(3);
  return p;
}

// Runs one problem through one path under every table: vs naive, across thread counts, SIMD vs reference,
// and (packed paths) packed under one table, run under another.
void check_problem(size_t M, size_t N, size_t K, Path path, bool ta, bool tb, int ep_kind, bool with_ref = true) {
  const Problem p = make(M, N, K, ta, tb, uint32_t(M * 7919 + N * 104729 + K * 13 + ep_kind));
  const gemm::Epilogue ep = epilogue(ep_kind, p);
  std::vector<float> r;  // the reference result (or the first table's, without with_ref)
  if (with_ref) {
    r = compute(kernels::reference(), p, path, ep, &pool2());
    const bool ok = matches_naive(p, ep, r);
    CHECK(ok);
    if (!ok) std::fprintf(stderr, "  (ref, path %d ta=%d tb=%d epilogue %d)\n", int(path), ta, tb, ep_kind);
  }
  const std::vector<const kernels::Table*> tables = simd_tables();
  for (const kernels::Table* t : tables) {
    const std::vector<float> c1 = compute(*t, p, path, ep, nullptr);
    const bool ok = matches_naive(p, ep, c1);
    CHECK(ok);
    CHECK(same_bits(c1, compute(*t, p, path, ep, &pool2())));
    CHECK(same_bits(c1, compute(*t, p, path, ep, &pool3())));
    if (r.empty()) r = c1;
    const bool same = same_bits(c1, r);
    CHECK(same);
    if (path != Path::kPlain) {
      // Packed under t, run under every other table (another tile: the driver picks a fitting kernel).
      for (const kernels::Table* u : tables)
        if (u != t) CHECK(same_bits(r, compute(*t, p, path, ep, &pool2(), u)));
      if (with_ref) CHECK(same_bits(r, compute(*t, p, path, ep, &pool3(), &kernels::reference())));
    }
    if (!ok || !same)
      std::fprintf(stderr, "  (%s, path %d ta=%d tb=%d epilogue %d)\n", t->name, int(path), ta, tb, ep_kind);
  }
}

// Edge sizes for both tiles (6x16, 14x32): 1, odd, one under / at / over MR and NR, past MC (140/144),
// KC (256) and NC (2048), K not a multiple of the 4-step unroll.
const size_t kShapes[][3] = {
    {1, 1, 1},    {1, 16, 1},   {6, 16, 4},    {7, 17, 3},   {5, 33, 1},    {13, 31, 17},  {2, 5, 9},
    {1, 100, 64}, {8, 48, 300}, {17, 1, 33},   {150, 40, 37}, {37, 19, 260}, {64, 70, 576}, {3, 2100, 20},
    {14, 32, 8},  {15, 33, 5},  {28, 64, 259}, {29, 95, 6},  {141, 65, 13}, {43, 2080, 3},
    {8, 12, 5},   {9, 25, 6},   {24, 36, 2},
};

}  // namespace

TEST(gemm_plain_all_transposes) {
  int e = 0;
  for (auto& s : kShapes)
    for (int t = 0; t < 4; ++t) check_problem(s[0], s[1], s[2], Path::kPlain, t & 1, t & 2, e++);
}

TEST(gemm_packed_a) {
  int e = 0;
  for (auto& s : kShapes)
    for (int t = 0; t < 2; ++t) check_problem(s[0], s[1], s[2], Path::kPackedA, t, false, e++);
}

TEST(gemm_packed_b) {
  int e = 0;
  for (auto& s : kShapes)
    for (int t = 0; t < 2; ++t) check_problem(s[0], s[1], s[2], Path::kPackedB, false, t, e++);
}

TEST(gemm_large) {
  check_problem(300, 257, 513, Path::kPlain, false, false, 1);
  check_problem(300, 257, 513, Path::kPackedA, false, false, 2);
  check_problem(300, 257, 513, Path::kPackedB, false, true, 3, /*with_ref=*/false);
}

TEST(gemm_every_epilogue_every_path) {
  for (int e = 0; e < 5; ++e)
    for (Path path : {Path::kPlain, Path::kPackedA, Path::kPackedB}) check_problem(11, 23, 7, path, false, false, e);
}

TEST(gemm_empty_and_k0) {
  // K = 0: C = act(bias); M or N = 0: nothing written, no workspace needed.
  for (Path path : {Path::kPlain, Path::kPackedA, Path::kPackedB}) {
    check_problem(5, 18, 0, path, false, false, 1);
    check_problem(5, 18, 0, path, false, false, 2);
  }
  CHECK(gemm::workspace_size(0, 5, 5, 2) == 0);
  float c = kSentinel;
  gemm::gemm(kernels::active(), nullptr, 1, false, nullptr, 1, false, 0, 1, 3, &c, 1, {}, nullptr, nullptr);
  CHECK(c == kSentinel);
}

TEST(gemm_rejects_unfused_activation) {
  float a = 1, b = 1, c = 0;
  std::vector<unsigned char> ws(gemm::workspace_size(1, 1, 1, 1));
  gemm::Epilogue ep;
  ep.act.act = Act::kSigmoid;
  bool threw = false;
  try {
    gemm::gemm(kernels::active(), &a, 1, false, &b, 1, false, 1, 1, 1, &c, 1, ep, nullptr, ws.data());
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK(threw);
}

TEST(gemm_dispatch_tables) {
  // The default table is the best one; the reference follows its tile; forcing works both ways.
  const kernels::Table* best = kernels::simd_table();
  if (!best) return;
  CHECK(&kernels::active() == best || std::getenv("PYRT_KERNELS"));
  CHECK(best == kernels::supported_tables().front());
  kernels::force_reference(true);
  CHECK(std::strcmp(kernels::active().name, "ref") == 0);
  kernels::force_reference(false);
  CHECK(std::strcmp(kernels::active().name, "ref") != 0);
  kernels::force_table(nullptr);
  for (const kernels::Table* t : kernels::supported_tables()) {
    // A reference table asked for another tile gets that tile's reference twin, which t names.
    const kernels::GemmKernel g = kernels::gemm_kernel_for(kernels::reference(), t->f32_gemm_mr, t->f32_gemm_nr);
    CHECK(g.fn == t->f32_gemm_ref && g.mr == t->f32_gemm_mr && g.nr == t->f32_gemm_nr);
    CHECK(kernels::reference_for(*t).f32_gemm == t->f32_gemm_ref);
    CHECK(kernels::gemm_max_mr() >= t->f32_gemm_mr && kernels::gemm_max_nr() >= t->f32_gemm_nr);
    CHECK(kernels::table_by_name(t->name) == t);
    const kernels::GemmKernel h = kernels::gemm_kernel_for(*t, 0, 0);
    CHECK(h.fn == t->f32_gemm);
  }
}

TEST(gemm_microkernel_matches_reference_directly) {
  // Every (mr, nr, kc) of each SIMD tile, with and without LoadC / Final, per-row and per-column bias, every
  // fused activation.
  for (const kernels::Table* t : simd_tables()) {
  const size_t MR = t->f32_gemm_mr, NR = t->f32_gemm_nr;
  const kernels::GemmKernel r{t->f32_gemm_ref, MR, NR};  // the tile's reference twin
  CHECK(r.fn && r.fn != t->f32_gemm);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (size_t kc : {0, 1, 2, 3, 4, 5, 8, 9, 33}) {
    std::vector<float, std::allocator<float>> buf(kc * (MR + NR) + 32);
    float* a = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(buf.data()) + 63) & ~uintptr_t(63));
    float* b = a + ((kc * MR + 15) / 16) * 16;
    for (size_t i = 0; i < kc * MR; ++i) a[i] = u(rng);
    for (size_t i = 0; i < kc * NR; ++i) b[i] = u(rng);
    std::vector<float> bias(NR);
    for (auto& x : bias) x = u(rng);
    for (size_t mr = 1; mr <= MR; ++mr)
      for (size_t nr = 1; nr <= NR; ++nr)
        for (uint32_t flags = 0; flags < 4; ++flags) {
          const Act acts[] = {Act::kLeakyRelu, Act::kRelu, Act::kClip, Act::kNone};
          kernels::GemmUkArgs args{flags, (nr & 1) ? bias.data() : nullptr, (nr & 2) ? bias.data() : nullptr,
                                   uint8_t(acts[(mr + nr) % 4]), 0.25f, 0.5f};
          if (acts[(mr + nr) % 4] == Act::kClip) args.p0 = -0.25f;
          std::vector<float> c1(MR * (NR + 1)), c2;
          for (auto& x : c1) x = u(rng);
          c2 = c1;
          t->f32_gemm(mr, nr, kc, a, b, c1.data(), NR + 1, args);
          r.fn(mr, nr, kc, a, b, c2.data(), NR + 1, args);
          const bool same = same_bits(c1, c2);
          CHECK(same);
          if (!same) std::fprintf(stderr, "  (%s mr=%zu nr=%zu kc=%zu flags=%u)\n", t->name, mr, nr, kc, flags);
        }
  }
  }
}

TEST(thread_pool_wake_then_work) {
  // wake() (a job with no chunks, what a session does at the start of run) on sleeping and on spinning
  // workers, then real jobs: every item is done exactly once (TSan checks the hand-over in CI).
  ThreadPool pool(3);
  std::vector<int> hits(1000);
  for (int rep = 0; rep < 20; ++rep) {
    if (rep % 4 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));  // workers go to sleep
    pool.wake();
    if (rep % 2) pool.wake();  // twice in a row is fine too
    pool.parallel_for(hits.size(), 1, [&](size_t b, size_t e, int) {
      for (size_t i = b; i < e; ++i) ++hits[i];
    });
  }
  for (int h : hits) CHECK(h == 20);
}
