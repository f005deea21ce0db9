// A small fixed thread pool of our own (no OpenMP): parallel_for splits [0, n) into contiguous chunks, one
// per thread, and the calling thread takes part. Nothing is allocated per call.
//
// Chunks are claimed, not assigned: whichever thread is free takes the next one. When the OS deschedules a
// worker before it starts (another thread wants the core for a tick, 4 ms here), the caller runs its chunk
// instead of waiting the tick out: a small conv net on 2 cores (pyrt_benchmark, 3000 runs, 6 interleaved rounds)
// kept its median (0.17 ms) and its p99 went from 2.8 ms in 5 rounds of 6 to 1.0-1.6 ms.
//
// Waking a sleeping thread costs tens of microseconds, more than many of a model's ops take, so workers spin
// for a while (~100 us) after each job before they block; inference calls parallel_for in quick succession.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace pyrt {

class ThreadPool {
 public:
  // n_threads <= 0: one per hardware thread.
  explicit ThreadPool(int n_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return int(workers_.size()) + 1; }

  // Gets sleeping workers spinning again without giving them work, so that a parallel_for issued shortly
  // after (a session's first op) does not pay the wake-up. Called by the thread that calls parallel_for.
  void wake();

  // fn(begin, end, thread_index) over a partition of [0, n) into at most size() chunks, all with at least
  // `grain` items (except when n < grain). Returns when every chunk is done. Not re-entrant; fn must not throw.
  template <typename F>
  void parallel_for(size_t n, size_t grain, F&& fn) {
    if (n == 0) return;
    using Fn = std::remove_reference_t<F>;
    run(n, grain, [](void* ctx, size_t b, size_t e, int t) { (*static_cast<Fn*>(ctx))(b, e, t); }, &fn);
  }

 private:
  using Task = void (*)(void*, size_t, size_t, int);
  void run(size_t n, size_t grain, Task task, void* ctx);
  void worker(int index);
  // Runs chunks of job `gen` (of `chunks`) as thread `index` until none is left to claim.
  void help(uint64_t gen, size_t chunks, int index);

  std::vector<std::thread> workers_;
  // The current job. `job_` = generation << 8 | chunk count, published last: a worker reads the other fields
  // only when its index is below the chunk count, and then the caller waits for it before writing them again.
  std::atomic<Task> task_{nullptr};
  std::atomic<void*> ctx_{nullptr};
  std::atomic<size_t> n_{0};
  std::atomic<uint64_t> job_{0};
  // generation << 8 | next unclaimed chunk. A claim succeeds only for the generation the claimer saw, and the
  // caller rewrites the fields above only after every claimed chunk is done.
  std::atomic<uint64_t> claim_{0};
  std::atomic<int> pending_{0};   // chunks not finished yet
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable wake_;
};

}  // namespace pyrt
