#include "api/live_state.h"

#include <fmt/format.h>

#include <unordered_set>

#include "api/json_text.h"
#include "api/socket_json.h"
#include "collectors/time_text.h"

namespace portwatch::api {

using namespace collectors;

namespace {

uint64_t Identity(const Socket& socket) {
  return socket.cookie != 0 ? socket.cookie : socket.inode;
}

std::string SummaryJson(const SnapshotView& view) {
  const store::Sample& sample = view.Counts().sample;
  std::string out;
  JsonObjectWriter json(out);
  json.String("taken_at", FormatIsoTime(view.taken_at()));
  json.Number(
      "duration_us",
      std::chrono::duration_cast<std::chrono::microseconds>(view.snapshot().duration).count());
  json.Number("sockets", sample.sockets);
  json.Number("tcp", sample.tcp);
  json.Number("udp", sample.udp);
  json.Number("raw", sample.raw);
  json.Number("packet", sample.packet);
  json.Number("listeners", sample.listeners);
  json.Number("established", sample.established);
  json.Number("time_wait", sample.time_wait);
  json.Number("remote_hosts", sample.remote_hosts);
  return out;
}

}  // namespace

LiveState::LiveState(AgentInfo info) : info_(std::move(info)) {}

void LiveState::PublishSnapshot(std::shared_ptr<const Snapshot> snapshot) {
  const double seconds = std::chrono::duration<double>(snapshot->duration).count();
  std::shared_ptr<const SnapshotView> view;
  {
    std::lock_guard lock(mutex_);
    view = std::make_shared<const SnapshotView>(snapshot, ++sequence_);
    view_ = view;
    for (size_t i = 0; i < kDurationBuckets.size(); ++i) {
      if (seconds <= kDurationBuckets[i]) ++durations_.buckets[i];
    }
    ++durations_.count;
    durations_.sum_seconds += seconds;
  }
  // Listener changes: listeners are few, so a set of them per snapshot is cheap; the first
  // snapshot only fills the set (everything "appearing" at start says nothing).
  const bool first = view->sequence() == 1;
  std::unordered_set<uint64_t> present;
  const std::string at = FormatIsoTime(view->taken_at());
  for (const Socket& socket : snapshot->sockets) {
    if (socket.direction != Direction::kListen || !socket.HasPorts()) continue;
    const uint64_t id = Identity(socket);
    present.insert(id);
    if (listeners_.contains(id)) continue;
    std::string json;
    AppendSocketJson(json, *snapshot, socket);
    if (!first) {
      events_.Publish("listener_appeared", fmt::format(R"({{"time":"{}","socket":{}}})", at, json));
    }
    listeners_.emplace(id, std::move(json));
  }
  for (auto it = listeners_.begin(); it != listeners_.end();) {
    if (present.contains(it->first)) {
      ++it;
      continue;
    }
    events_.Publish("listener_disappeared",
                    fmt::format(R"({{"time":"{}","socket":{}}})", at, it->second));
    it = listeners_.erase(it);
  }
  events_.Publish("snapshot", SummaryJson(*view));
}

std::shared_ptr<const SnapshotView> LiveState::view() const {
  std::lock_guard lock(mutex_);
  return view_;
}

void LiveState::PublishAlert(std::string_view kind, std::string alert_json) {
  events_.Publish(fmt::format("alert_{}", kind), std::move(alert_json));
}

void LiveState::SetRules(std::string rules_json, std::string baseline_json) {
  std::lock_guard lock(mutex_);
  rules_json_ = std::move(rules_json);
  baseline_json_ = std::move(baseline_json);
}

std::string LiveState::rules_json() const {
  std::lock_guard lock(mutex_);
  return rules_json_;
}

std::string LiveState::baseline_json() const {
  std::lock_guard lock(mutex_);
  return baseline_json_;
}

void LiveState::SetInterval(std::chrono::milliseconds interval) {
  std::lock_guard lock(mutex_);
  interval_ = interval;
}

std::chrono::milliseconds LiveState::interval() const {
  std::lock_guard lock(mutex_);
  return interval_;
}

void LiveState::SetStoreBehind(bool behind) {
  std::lock_guard lock(mutex_);
  store_behind_ = behind;
}

void LiveState::SetStoreError(std::string error) {
  std::lock_guard lock(mutex_);
  store_error_ = std::move(error);
}

std::string LiveState::store_error() const {
  std::lock_guard lock(mutex_);
  return store_error_;
}

void LiveState::SetAlertsUnstored(int64_t queued, int64_t dropped) {
  std::lock_guard lock(mutex_);
  alerts_unstored_ = queued;
  alert_events_dropped_ = dropped;
}

int64_t LiveState::alerts_unstored() const {
  std::lock_guard lock(mutex_);
  return alerts_unstored_;
}

int64_t LiveState::alert_events_dropped() const {
  std::lock_guard lock(mutex_);
  return alert_events_dropped_;
}

bool LiveState::store_behind() const {
  std::lock_guard lock(mutex_);
  return store_behind_;
}

DurationHistogram LiveState::durations() const {
  std::lock_guard lock(mutex_);
  return durations_;
}

int64_t LiveState::snapshots() const {
  std::lock_guard lock(mutex_);
  return sequence_;
}

}  // namespace portwatch::api
