// Loop: the agent's cycle — collect a snapshot, write what changed, run the rules, prune — every
// interval.
//
// Owns the collector, the database connection and the history writer. A failed write is logged
// once and folded into the next interval (see HistoryWriter); the rules run on every snapshot
// whether or not it was written, their alerts waiting in memory for the store (see
// AlertTracker), and the API is told the store fails. A failed collection ends the loop,
// since nothing useful can be recorded without it. Runs on the calling thread; not thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>

#include "agent/config.h"
#include "agent/rules_stage.h"
#include "agent/signals.h"
#include "api/live_state.h"
#include "collectors/collector.h"
#include "store/database.h"
#include "store/history_writer.h"

namespace portwatch::agent {

struct LoopResult {
  int64_t intervals = 0;
  int64_t failed_writes = 0;
  bool behind = false;         // the last write failed
  std::optional<Error> error;  // why the loop ended early, if it did
};

class Loop {
 public:
  // Opens the database at `database` (already resolved from the config) and prepares the writer;
  // with `rules`, also the rules, the baseline and the alerts (the agent; `record` has none).
  static Result<std::unique_ptr<Loop>> Create(const Config& config, const std::string& database,
                                              bool rules = false);

  // Runs until flags.stop is set or `duration` has passed. On flags.reload, calls reload() and,
  // when it returns a config, applies its interval, retention, log level and rules.
  LoopResult Run(SignalFlags& flags, std::optional<std::chrono::milliseconds> duration,
                 const std::function<std::optional<Config>()>& reload = {});

  // Starts sending notifications (the agent, once it holds the instance lock); until then alert
  // events are only queued.
  Result<void> StartNotifications();

  // Hands every snapshot, the rules and the alert events to the API from now on (not owned).
  void Publish(api::LiveState& live);

  void Apply(const Config& config);
  store::Database& database() { return *db_; }

 private:
  Loop(Config config, std::unique_ptr<store::Database> db, store::HistoryWriter writer);
  // Runs the rules and alerts; returns why the alerts could not be stored, if they could not.
  std::optional<Error> Observe(const collectors::Snapshot& snapshot);
  void Prune();

  Config config_;
  std::unique_ptr<collectors::Collector> collector_;
  std::unique_ptr<store::Database> db_;
  store::HistoryWriter writer_;
  std::unique_ptr<RulesStage> rules_;  // null: history only
  api::LiveState* live_ = nullptr;     // null: no API
  bool checkpoint_failing_ = false;
  bool rules_failing_ = false;
  int64_t dropped_events_ = 0;  // as last logged
  // Retention runs once a minute, and every interval while it has a backlog.
  std::chrono::steady_clock::time_point next_prune_{};
};

// Sets spdlog's level from a config's log_level name.
void ApplyLogLevel(const std::string& level);

}  // namespace portwatch::agent
