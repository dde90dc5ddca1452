// WorkerPool: the API server's request threads, with a bounded queue of accepted connections.
//
// cpp-httplib hands every accepted connection to a task queue; its own ThreadPool queues without
// limit, so a flood of connections would grow memory without end. Here a full queue makes the
// accepting thread wait, and the kernel's listen backlog holds (then refuses) the rest.
// Thread-safe.
#pragma once

#include <httplib.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace portwatch::api {

class WorkerPool : public httplib::TaskQueue {
 public:
  WorkerPool(size_t threads, size_t queue_limit);
  ~WorkerPool() override;
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void enqueue(std::function<void()> task) override;
  void shutdown() override;  // runs what is queued, then joins the threads

 private:
  void Work();

  const size_t queue_limit_;
  std::mutex mutex_;
  std::condition_variable ready_;  // a task is queued, or shutting down
  std::condition_variable room_;   // the queue has room, or shutting down
  std::deque<std::function<void()>> tasks_;
  bool shutting_down_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace portwatch::api
