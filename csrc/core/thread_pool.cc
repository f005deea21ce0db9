#include "core/thread_pool.h"

#include <algorithm>

namespace pyrt {

ThreadPool::ThreadPool(int n_threads) {
  if (n_threads <= 0) n_threads = int(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 1; i < n_threads; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

static void chunk_range(size_t n, size_t chunks, size_t c, size_t* b, size_t* e) {
  const size_t base = n / chunks, extra = n % chunks;
  *b = c * base + std::min(c, extra);
  *e = *b + base + (c < extra);
}

void ThreadPool::run(size_t n, size_t grain, Task task, void* ctx) {
  const size_t max_chunks = grain ? std::max<size_t>(1, n / grain) : n;
  const size_t chunks = std::min<size_t>(size_t(size()), max_chunks);
  if (chunks <= 1) {
    task(ctx, 0, n, 0);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    task_ = task;
    ctx_ = ctx;
    n_ = n;
    chunks_ = chunks;
    pending_ = int(chunks) - 1;
    ++generation_;
  }
  wake_.notify_all();
  size_t b, e;
  chunk_range(n, chunks, 0, &b, &e);
  task(ctx, b, e, 0);
  std::unique_lock<std::mutex> lock(mu_);
  done_.wait(lock, [this] { return pending_ == 0; });
}

void ThreadPool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    std::unique_lock<std::mutex> lock(mu_);
    wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
    if (stop_) return;
    seen = generation_;
    if (size_t(index) >= chunks_) continue;  // fewer chunks than threads this time
    const Task task = task_;
    void* ctx = ctx_;
    size_t b, e;
    chunk_range(n_, chunks_, size_t(index), &b, &e);
    lock.unlock();
    task(ctx, b, e, index);
    lock.lock();
    if (--pending_ == 0) done_.notify_one();
  }
}

}  // namespace pyrt
