#include "api/event_hub.h"

namespace portwatch::api {

void EventHub::Publish(std::string type, std::string data) {
  {
    std::lock_guard lock(mutex_);
    events_.push_back({++last_id_, std::move(type), std::move(data)});
    while (events_.size() > capacity_) events_.pop_front();
  }
  changed_.notify_all();
}

std::vector<StreamEvent> EventHub::WaitAfter(int64_t after, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return closed_ || last_id_ > after; });
  std::vector<StreamEvent> out;
  if (closed_) return out;
  for (const StreamEvent& event : events_) {
    if (event.id > after) out.push_back(event);
  }
  return out;
}

int64_t EventHub::last_id() const {
  std::lock_guard lock(mutex_);
  return last_id_;
}

void EventHub::Close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  changed_.notify_all();
}

bool EventHub::closed() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

}  // namespace portwatch::api
