// The thread pool: every index of [0, n) is run exactly once per parallel_for, by a thread index below size(),
// chunks respect the grain, and a worker that stalls (as one the OS deschedules) does not lose or repeat work:
// the others claim its chunks.
#include <atomic>
#include <chrono>
#include <random>
#include <thread>
#include <vector>

#include "compute/thread_pool.h"
#include "harness.h"

using pyrt::ThreadPool;

namespace {

void check_cover(ThreadPool& pool, size_t n, size_t grain, bool stall) {
  std::vector<std::atomic<int>> hits(n);
  std::atomic<int> bad_thread{0}, small_chunk{0};
  pool.parallel_for(n, grain, [&](size_t b, size_t e, int t) {
    if (t < 0 || t >= pool.size()) bad_thread.fetch_add(1);
    if (n >= grain && e - b < grain) small_chunk.fetch_add(1);
    if (stall && t == 1) std::this_thread::sleep_for(std::chrono::microseconds(300));
    for (size_t i = b; i < e; ++i) hits[i].fetch_add(1, std::memory_order_relaxed);
  });
  int wrong = 0;
  for (auto& h : hits) wrong += h.load() != 1;
  CHECK(wrong == 0);
  CHECK(bad_thread.load() == 0);
  CHECK(small_chunk.load() == 0);
}

}  // namespace

TEST(thread_pool_covers_every_index_once) {
  std::mt19937 rng(7);
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    CHECK(pool.size() == threads);
    for (int it = 0; it < 400; ++it) {
      const size_t n = rng() % 3000 + 1, grain = rng() % 64 + 1;
      check_cover(pool, n, grain, false);
      if (it % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));  // workers go to sleep
    }
  }
}

TEST(thread_pool_stalled_worker_loses_nothing) {
  ThreadPool pool(4);
  for (int it = 0; it < 200; ++it) check_cover(pool, 1000, 1, it % 3 == 0);
  // the same thread index never runs two chunks at once (per-thread workspaces rely on it)
  std::vector<std::atomic<int>> busy(size_t(pool.size()));
  std::atomic<int> overlap{0};
  for (int it = 0; it < 200; ++it)
    pool.parallel_for(64, 1, [&](size_t, size_t, int t) {
      if (busy[size_t(t)].fetch_add(1) != 0) overlap.fetch_add(1);
      std::this_thread::yield();
      busy[size_t(t)].fetch_sub(1);
    });
  CHECK(overlap.load() == 0);
}
