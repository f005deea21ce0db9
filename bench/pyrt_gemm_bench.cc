// pyrt_gemm_bench: GFLOPS of the fp32 GEMM driver, one JSON object per line (read by bench/gemm.py).
//   pyrt_gemm_bench [--threads 1,2] [--min-time 0.2] [--quick] [--shape kind:MxNxK ...]
// (--shape, repeatable, replaces the default list, e.g. linear:49x1152x192 for a 7x7 channels-last 1x1 conv)
// For each shape: "plain" packs both operands per call (what numpy/torch matmul do), and the prepacked mode
// the runtime uses for that layer kind ("packed_b": Linear Y = X.W^T, "packed_a": conv Y = W.X).
// Each figure is the median over samples; a sample times enough calls to last >= min-time / 5 seconds.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "compute/thread_pool.h"
#include "kernels/dispatch.h"
#include "compute/gemm.h"
#include "compute/qgemm.h"

using namespace pyrt;
using Clock = std::chrono::steady_clock;

namespace {

struct Shape {
  const char* kind;  // square | conv | linear
  size_t M, N, K;
};

template <typename F>
double median_seconds(F&& f, double min_time) {
  f();  // warm-up (page faults, caches)
  const auto t0 = Clock::now();
  f();
  const double once = std::chrono::duration<double>(Clock::now() - t0).count();
  const int samples = 7;
  const int iters = std::max(1, int(min_time / samples / std::max(once, 1e-9)));
  std::vector<double> ts;
  for (int s = 0; s < samples; ++s) {
    const auto a = Clock::now();
    for (int i = 0; i < iters; ++i) f();
    ts.push_back(std::chrono::duration<double>(Clock::now() - a).count() / iters);
  }
  std::sort(ts.begin(), ts.end());
  return ts[ts.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> threads = {1, 2};
  double min_time = 0.5;
  bool quick = false;
  std::vector<Shape> custom;
  std::vector<std::string> kinds;  // owns the kind strings of custom shapes
  kinds.reserve(64);
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) {
      threads.clear();
      for (char* s = argv[++i]; *s;) {
        threads.push_back(int(std::strtol(s, &s, 10)));
        if (*s == ',') ++s;
      }
    } else if (!std::strcmp(argv[i], "--min-time") && i + 1 < argc) {
      min_time = std::atof(argv[++i]);
    } else if (!std::strcmp(argv[i], "--quick")) {
      quick = true;
    } else if (!std::strcmp(argv[i], "--shape") && i + 1 < argc && kinds.size() < 64) {
      const char* v = argv[++i];
      const char* colon = std::strchr(v, ':');
      size_t m = 0, n = 0, k = 0;
      if (!colon || std::sscanf(colon + 1, "%zux%zux%zu", &m, &n, &k) != 3 || !m || !n || !k) {
        std::fprintf(stderr, "--shape wants kind:MxNxK (kind square, conv or linear), got '%s'\n", v);
        return 2;
      }
      kinds.emplace_back(v, size_t(colon - v));
      custom.push_back({kinds.back().c_str(), m, n, k});
    } else {
      std::fprintf(stderr, "usage: %s [--threads 1,2] [--min-time s] [--quick] [--shape kind:MxNxK]\n", argv[0]);
      return 2;
    }
  }
  std::vector<Shape> shapes = {{"square", 256, 256, 256},   {"square", 512, 512, 512},
                               {"square", 1024, 1024, 1024}, {"square", 2048, 2048, 2048},
                               {"conv", 64, 3136, 576},      {"conv", 256, 196, 2304},
                               {"linear", 1, 1024, 1024},    {"linear", 2, 1024, 1024},
                               {"linear", 4, 1024, 1024},    {"linear", 8, 1024, 1024}};
  if (quick) shapes = {{"square", 1024, 1024, 1024}};
  if (!custom.empty()) shapes = custom;
  const kernels::Table& kt = kernels::active();
  const gemm::Blocking bl = gemm::blocking(kt);
  std::printf("{\"isa\": \"%s\", \"mr\": %zu, \"nr\": %zu, \"mc\": %zu, \"kc\": %zu, \"nc\": %zu}\n",
              kt.name, kt.f32_gemm_mr, kt.f32_gemm_nr, bl.mc, bl.kc, bl.nc);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (int t : threads) {
    ThreadPool pool(t);
    for (const Shape& s : shapes) {
      // Layouts as the runtime sees them: X[M,K] . W^T with W[N,K] for linear, W[M,K] . X[K,N] for conv,
      // row-major A[M,K] . B[K,N] for square.
      std::vector<float> a(s.M * s.K), b(s.K * s.N), c(s.M * s.N);
      for (auto& x : a) x = u(rng);
      for (auto& x : b) x = u(rng);
      const bool linear = !std::strcmp(s.kind, "linear");
      const bool trans_b = linear;  // b holds W[N,K]
      std::vector<unsigned char> ws(gemm::workspace_size(s.M, s.N, s.K, t));
      const double flops = 2.0 * double(s.M) * double(s.N) * double(s.K);
      auto report = [&](const char* mode, double sec) {
        std::printf("{\"kind\": \"%s\", \"M\": %zu, \"N\": %zu, \"K\": %zu, \"threads\": %d, \"mode\": \"%s\", "
                    "\"seconds\": %.9g, \"gflops\": %.3f}\n",
                    s.kind, s.M, s.N, s.K, t, mode, sec, flops / sec * 1e-9);
        std::fflush(stdout);
      };
      report("plain", median_seconds(
                          [&] {
                            gemm::gemm(kt, a.data(), s.K, false, b.data(), trans_b ? s.K : s.N, trans_b, s.M, s.N, s.K,
                                       c.data(), s.N, {}, &pool, ws.data());
                          },
                          min_time));
      if (linear || !std::strcmp(s.kind, "square")) {
        const gemm::PackedB pb = gemm::pack_b(kt, b.data(), trans_b ? s.K : s.N, trans_b, s.K, s.N);
        report("packed_b", median_seconds(
                               [&] { gemm::gemm_packed_b(kt, a.data(), s.K, s.M, pb, c.data(), s.N, {}, &pool, ws.data()); },
                               min_time));
      } else {
        const gemm::PackedA pa = gemm::pack_a(kt, a.data(), s.K, false, s.M, s.K);
        report("packed_a", median_seconds(
                               [&] { gemm::gemm_packed_a(kt, pa, b.data(), s.N, s.N, c.data(), s.N, {}, &pool, ws.data()); },
                               min_time));
      }
      // u8 x s8 -> u8 (static int8 layers): X[M,K] . W^T with W[N,K] packed once, as QLinearConv/QGemm run it
      std::vector<uint8_t> qa(s.M * s.K), qc(s.M * s.N);
      std::vector<int8_t> qw(s.N * s.K);
      for (auto& x : qa) x = uint8_t(rng());
      for (auto& x : qw) x = int8_t(rng());
      const qgemm::Packed qp = qgemm::pack(qw.data(), s.N, s.K, kt.qgemm);
      const std::vector<int32_t> qbias = qgemm::fold_bias(qp, nullptr, 128);
      const std::vector<float> qscale(s.N, 1e-4f);
      const kernels::QRequant rq{-128.f, 127.f, 128, false};
      report("int8", median_seconds(
                         [&] {
                           qgemm::run(qa.data(), s.K, s.M, qp, qbias.data(), qscale.data(), rq, qc.data(), s.N, &pool);
                         },
                         min_time));
    }
  }
  return 0;
}
