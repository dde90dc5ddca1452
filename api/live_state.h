// LiveState: what the running agent shares with its API — the latest snapshot, the agent's own
// vital signs, the rules and baseline in force, and the stream of live events.
//
// The agent's loop publishes (one writer); request threads read. Snapshots are handed over as
// shared pointers, so a request keeps the view it started with however long it takes, and
// publishing never waits for a reader. Thread-safe.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "api/event_hub.h"
#include "api/snapshot_view.h"
#include "collectors/snapshot.h"

namespace portwatch::api {

// Upper bounds (seconds) of the snapshot-duration histogram's buckets, as Prometheus wants them.
inline constexpr std::array<double, 10> kDurationBuckets = {0.005, 0.01, 0.025, 0.05, 0.1,
                                                            0.25,  0.5,  1.0,   2.5,  5.0};

struct DurationHistogram {
  std::array<int64_t, kDurationBuckets.size()> buckets{};  // cumulative counts
  int64_t count = 0;
  double sum_seconds = 0;
};

// Facts about the agent that do not change while it runs.
struct AgentInfo {
  std::string version;
  std::string host;
  std::string database;
  int64_t started_at = 0;  // Unix milliseconds
};

class LiveState {
 public:
  explicit LiveState(AgentInfo info);

  // After each interval: the new snapshot (also streamed as a "snapshot" summary event, with
  // "listener_appeared"/"listener_disappeared" events for listeners that came and went).
  void PublishSnapshot(std::shared_ptr<const collectors::Snapshot> snapshot);
  // nullptr until the first snapshot.
  std::shared_ptr<const SnapshotView> view() const;

  // An alert event (kind "opened", "resolved", ...) with the alert's JSON.
  void PublishAlert(std::string_view kind, std::string alert_json);

  // The rules and the baseline in force, as JSON objects, after each start and reload.
  void SetRules(std::string rules_json, std::string baseline_json);
  std::string rules_json() const;
  std::string baseline_json() const;

  void SetInterval(std::chrono::milliseconds interval);
  std::chrono::milliseconds interval() const;
  // Whether the last interval's write failed (the history is behind the snapshot).
  void SetStoreBehind(bool behind);
  bool store_behind() const;
  // Why the store fails (empty: it does not), for /readyz.
  void SetStoreError(std::string error);
  std::string store_error() const;
  // Alert events detected but not yet in the database (they wait in the agent's memory), and
  // those dropped since the start because that queue was full.
  void SetAlertsUnstored(int64_t queued, int64_t dropped);
  int64_t alerts_unstored() const;
  int64_t alert_events_dropped() const;

  DurationHistogram durations() const;
  int64_t snapshots() const;
  const AgentInfo& info() const { return info_; }
  EventHub& events() { return events_; }

 private:
  const AgentInfo info_;
  EventHub events_;
  mutable std::mutex mutex_;
  std::shared_ptr<const SnapshotView> view_;
  int64_t sequence_ = 0;
  DurationHistogram durations_;
  std::string rules_json_ = "{}";
  std::string baseline_json_ = "{}";
  std::chrono::milliseconds interval_{1000};
  bool store_behind_ = false;
  std::string store_error_;
  int64_t alerts_unstored_ = 0;
  int64_t alert_events_dropped_ = 0;
  // Listeners of the previous snapshot by cookie (or inode), for the appeared/disappeared events.
  std::unordered_map<uint64_t, std::string> listeners_;
};

}  // namespace portwatch::api
