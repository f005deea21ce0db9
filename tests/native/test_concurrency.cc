// One model opened once, many sessions in many threads at the same time (the documented use: a model shared,
// one session per thread): every output equals the sequential run's, bit for bit. Sessions with their own
// 2-thread pools too, and models opened and closed while others run. Run under ThreadSanitizer in CI.
#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"
#include "pyrt/pyrt.h"

namespace {

std::string golden(const char* f) { return pyrt_test::g_golden_dir + "/" + f; }

// Input k: 5 rows of 16 values that differ per k.
std::vector<float> input(int k) {
  std::vector<float> x(5 * 16);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(int((i * 13 + size_t(k) * 7) % 29) - 14) / 7.f;
  return x;
}

bool run(pyrt_session* s, const std::vector<float>& x, std::vector<float>* y) {
  pyrt_tensor in{};
  in.dtype = PYRT_F32, in.rank = 2, in.dims[0] = 5, in.dims[1] = 16, in.data = const_cast<float*>(x.data()), in.size = x.size() * 4;
  pyrt_tensor out{};
  y->assign(20, 0.f);
  out.data = y->data(), out.size = y->size() * 4;
  return pyrt_session_run(s, &in, 1, &out, 1) == PYRT_OK;
}

}  // namespace

TEST(concurrent_sessions_match_sequential_runs) {
  pyrt_model* m = nullptr;
  CHECK(pyrt_model_open(golden("mlp.pyrt").c_str(), &m) == PYRT_OK);
  if (!m) return;
  constexpr int kInputs = 16, kThreads = 8, kIters = 1000;
  std::vector<std::vector<float>> want(kInputs);
  {
    pyrt_session* s = nullptr;
    CHECK(pyrt_session_create(m, nullptr, &s) == PYRT_OK);
    for (int k = 0; k < kInputs; ++k) CHECK(run(s, input(k), &want[size_t(k)]));
    pyrt_session_destroy(s);
  }
  for (int pool_threads : {1, 2}) {
    std::atomic<int> mismatches{0}, failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        pyrt_session_options o;
        pyrt_session_options_init(&o);
        o.num_threads = pool_threads;
        pyrt_session* s = nullptr;
        if (pyrt_session_create(m, &o, &s) != PYRT_OK) {
          failures.fetch_add(1);
          return;
        }
        std::vector<float> y;
        for (int it = 0; it < kIters; ++it) {
          const int k = (t * 5 + it) % kInputs;
          if (!run(s, input(k), &y)) failures.fetch_add(1);
          else if (std::memcmp(y.data(), want[size_t(k)].data(), y.size() * 4) != 0) mismatches.fetch_add(1);
        }
        pyrt_session_destroy(s);
      });
    for (auto& th : threads) th.join();
    CHECK(failures.load() == 0);
    CHECK(mismatches.load() == 0);
  }
  pyrt_model_close(m);
}

TEST(concurrent_open_run_close) {
  // each thread opens its own handle on the same file (and on a memory copy), runs, closes, repeatedly
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int it = 0; it < 40; ++it) {
        pyrt_model* m = nullptr;
        pyrt_session* s = nullptr;
        std::vector<float> y;
        if (pyrt_model_open(golden("mlp.pyrt").c_str(), &m) != PYRT_OK || pyrt_session_create(m, nullptr, &s) != PYRT_OK ||
            !run(s, input(it), &y))
          failures.fetch_add(1);
        pyrt_session_destroy(s);
        pyrt_model_close(m);
      }
    });
  for (auto& th : threads) th.join();
  CHECK(failures.load() == 0);
}
