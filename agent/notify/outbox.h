// Outbox: which targets take an alert event, and the delivery rows that queue it for them.
//
// Enqueue runs on the caller's connection, inside the caller's transaction (the AlertTracker's,
// which also writes the event), so an event is queued exactly when it is stored. A target takes
// an event when the alert is at least its minimum severity, has a reason from one of its rules
// (if it names any), is neither silenced nor accepted, and the event is an opening, reopening or
// escalation — or a resolution, when the target sends those. Immutable once made; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "agent/notify/target_config.h"
#include "collectors/result.h"
#include "store/alerts.h"
#include "store/database.h"

namespace portwatch::agent::notify {

// Whether `target` announces `event` of `alert` at time `now`.
bool Takes(const TargetConfig& target, const store::Alert& alert, store::AlertEventKind event,
           int64_t now);

class Outbox {
 public:
  explicit Outbox(std::vector<TargetConfig> targets) : targets_(std::move(targets)) {}

  // Queues event `event_id` for every target that takes it; returns how many rows were queued.
  Result<int> Enqueue(store::Database& db, int64_t event_id, const store::Alert& alert,
                      store::AlertEventKind event, int64_t now) const;

  bool empty() const { return targets_.empty(); }
  const std::vector<TargetConfig>& targets() const { return targets_; }

 private:
  std::vector<TargetConfig> targets_;
};

}  // namespace portwatch::agent::notify
