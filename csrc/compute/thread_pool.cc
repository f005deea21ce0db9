#include "compute/thread_pool.h"

#include <algorithm>
#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PYRT_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define PYRT_PAUSE() __asm__ __volatile__("yield")
#else
#define PYRT_PAUSE() std::this_thread::yield()
#endif

namespace pyrt {
namespace {

constexpr auto kSpinFor = std::chrono::microseconds(100);

void chunk_range(size_t n, size_t chunks, size_t c, size_t* b, size_t* e) {
  const size_t base = n / chunks, extra = n % chunks;
  *b = c * base + std::min(c, extra);
  *e = *b + base + (c < extra);
}

}  // namespace

ThreadPool::ThreadPool(int n_threads) {
  if (n_threads <= 0) n_threads = int(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 1; i < n_threads; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true);
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::run(size_t n, size_t grain, Task task, void* ctx) {
  const size_t max_chunks = grain ? std::max<size_t>(1, n / grain) : n;
  const size_t chunks = std::min<size_t>({size_t(size()), max_chunks, size_t(255)});
  if (chunks <= 1) {
    task(ctx, 0, n, 0);
    return;
  }
  const uint64_t gen = (job_.load(std::memory_order_relaxed) >> 8) + 1;
  task_.store(task, std::memory_order_relaxed);
  ctx_.store(ctx, std::memory_order_relaxed);
  n_.store(n, std::memory_order_relaxed);
  pending_.store(int(chunks), std::memory_order_relaxed);
  claim_.store(gen << 8 | 1, std::memory_order_release);  // chunk 0 is the caller's
  job_.store(gen << 8 | chunks, std::memory_order_seq_cst);  // publishes the fields above
  if (sleepers_.load(std::memory_order_seq_cst) > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    wake_.notify_all();
  }
  size_t b, e;
  chunk_range(n, chunks, 0, &b, &e);
  task(ctx, b, e, 0);
  pending_.fetch_sub(1, std::memory_order_acq_rel);
  help(gen, chunks, 0);  // chunks no worker has started yet
  for (int spins = 0; pending_.load(std::memory_order_acquire) != 0; ++spins) {
    if (spins < 4096) PYRT_PAUSE();
    else std::this_thread::yield();
  }
}

void ThreadPool::help(uint64_t gen, size_t chunks, int index) {
  uint64_t v = claim_.load(std::memory_order_acquire);
  for (;;) {
    if ((v >> 8) != gen || (v & 0xFF) >= chunks) return;
    if (!claim_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
    size_t b, e;
    chunk_range(n_.load(std::memory_order_relaxed), chunks, size_t(v & 0xFF), &b, &e);
    task_.load(std::memory_order_relaxed)(ctx_.load(std::memory_order_relaxed), b, e, index);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
    v = claim_.load(std::memory_order_acquire);
  }
}

void ThreadPool::wake() {
  if (workers_.empty() || sleepers_.load(std::memory_order_seq_cst) == 0) return;
  // A job with no chunks: every worker sees a new generation, takes no part, and spins for the next one.
  job_.store(((job_.load(std::memory_order_relaxed) >> 8) + 1) << 8, std::memory_order_seq_cst);
  std::lock_guard<std::mutex> lock(mu_);
  wake_.notify_all();
}

void ThreadPool::worker(int index) {
  uint64_t seen = 0;  // the last job word handled
  for (;;) {
    uint64_t w = job_.load(std::memory_order_acquire);
    if (w == seen) {
      // Spin a while for the next job, then sleep until one is published.
      const auto until = std::chrono::steady_clock::now() + kSpinFor;
      int spins = 0;
      while ((w = job_.load(std::memory_order_acquire)) == seen && !stop_.load(std::memory_order_relaxed)) {
        PYRT_PAUSE();
        if (++spins % 64 == 0 && std::chrono::steady_clock::now() > until) {
          std::unique_lock<std::mutex> lock(mu_);
          sleepers_.fetch_add(1, std::memory_order_seq_cst);
          wake_.wait(lock, [&] {
            return job_.load(std::memory_order_seq_cst) != seen || stop_.load(std::memory_order_relaxed);
          });
          sleepers_.fetch_sub(1, std::memory_order_relaxed);
          spins = 0;
        }
      }
      if (stop_.load(std::memory_order_relaxed)) return;
    }
    seen = w;
    help(w >> 8, size_t(w & 0xFF), index);  // a job with no chunks (wake) has nothing to claim
  }
}
}  // namespace pyrt
