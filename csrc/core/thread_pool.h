// A small fixed thread pool of our own (no OpenMP): parallel_for splits [0, n) into contiguous chunks, one
// per thread, and the calling thread takes part. Nothing is allocated per call.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <thread>
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

  // fn(begin, end, thread_index) over a partition of [0, n) into at most size() chunks, all with at least
  // `grain` items (except when n < grain). Returns when every chunk is done. Not re-entrant.
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

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_, done_;
  // The current job; read by workers after `generation_` changes.
  Task task_ = nullptr;
  void* ctx_ = nullptr;
  size_t n_ = 0, chunks_ = 0;
  uint64_t generation_ = 0;
  int pending_ = 0;
  bool stop_ = false;
};

}  // namespace pyrt
