// EventHub: the live events the API streams to its clients (Server-Sent Events) — snapshot
// summaries, listeners appearing and disappearing, alert events.
//
// The agent's loop publishes; each stream waits for what came after the last id it sent. A
// bounded ring keeps the newest events, so a slow or reconnecting client (Last-Event-ID) catches
// up on what it missed as long as it is still there, and the hub's memory never grows.
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

namespace portwatch::api {

struct StreamEvent {
  int64_t id = 0;    // increasing from 1
  std::string type;  // "snapshot", "listener_appeared", "alert_opened", ...
  std::string data;  // one JSON object on one line
};

class EventHub {
 public:
  explicit EventHub(size_t capacity = 1024) : capacity_(capacity) {}

  void Publish(std::string type, std::string data);

  // Events with an id above `after`, oldest first, waiting up to `timeout` for the first one;
  // empty when the time ran out or the hub closed.
  std::vector<StreamEvent> WaitAfter(int64_t after, std::chrono::milliseconds timeout);

  int64_t last_id() const;

  // Wakes every waiter for good: the server is stopping.
  void Close();
  bool closed() const;

 private:
  const size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<StreamEvent> events_;
  int64_t last_id_ = 0;
  bool closed_ = false;
};

}  // namespace portwatch::api
