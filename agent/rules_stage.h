// RulesStage: the half of the agent's loop after the history is written (or failed to be) — run the
// rules over the snapshot, fold the findings into alerts, learn the baseline while there is none,
// write listener and alert events to the events log, and queue the alert events for the
// notification targets (whose OutboxWorker thread it owns).
//
// Built from a Config; Reload swaps in new rules only when they all load (a broken file keeps
// the running ones and says why). Runs on the loop's thread, on the loop's database connection;
// not thread-safe.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "agent/alert_tracker.h"
#include "agent/config.h"
#include "agent/event_log.h"
#include "agent/notify/outbox_worker.h"
#include "agent/rules/baseline.h"
#include "agent/rules/engine.h"
#include "api/live_state.h"
#include "collectors/snapshot.h"
#include "store/database.h"

namespace portwatch::agent {

struct StageStats {
  size_t findings = 0;
  size_t changes = 0;                // alert events this interval, stored or not
  size_t deliveries = 0;             // notifications queued for them
  size_t stored_late = 0;            // events of earlier intervals stored now
  size_t queued_events = 0;          // events still waiting for the database
  int64_t dropped_events = 0;        // events the full queue could not keep, since the start
  std::optional<Error> store_error;  // why the alerts could not be written this interval
  std::chrono::nanoseconds rules_time{0};
};

class RulesStage {
 public:
  static Result<std::unique_ptr<RulesStage>> Create(const Config& config, store::Database& db);

  // Every interval, whether or not its history could be written: the alerts change, and reach
  // the log, the events file and the API, even while the database refuses them (the tracker
  // queues their writes).
  StageStats Observe(const collectors::Snapshot& snapshot);

  // New rules, baseline and events settings; the old ones stay when the new ones do not load.
  Result<void> Reload(const Config& config);

  // Starts the thread that sends the outbox, when there are targets or rows still pending (which
  // it then expires after notify.max_age); until this is called, and when there is nothing to
  // send, alert events are only queued. A reload that adds targets starts it later.
  Result<void> StartNotifications();

  // Publishes alert events, and the rules and baseline in force, to the API (not owned; null:
  // nobody to tell).
  void set_live(api::LiveState* live);

  // Where the baseline is read from and saved to.
  const std::string& baseline_path() const { return baseline_path_; }
  size_t active_alerts() const { return tracker_.active_count(); }

 private:
  RulesStage(store::Database& db, AlertTracker tracker) : db_(&db), tracker_(std::move(tracker)) {}
  // Configure's named steps, in order (see rules_stage.cpp).
  struct Prepared;
  Result<void> Configure(const Config& config);
  Result<void> LoadEngine(const Config& config, Prepared& next);
  Result<void> LoadBaseline(const Config& config, Prepared& next);
  Result<void> OpenEvents(const Config& config, Prepared& next);
  Result<void> MakeTargets(const Config& config, Prepared& next);
  void AdoptBaseline(const Config& config, Prepared& next);
  Result<void> ApplyNotifications(const Config& config, Prepared& next);
  void Install(const Config& config, Prepared next);
  void Learn(const collectors::Snapshot& snapshot, int64_t now);

  store::Database* db_;
  AlertTracker tracker_;
  std::unique_ptr<rules::Engine> engine_;
  std::unique_ptr<EventLog> events_;
  std::string baseline_path_;
  // While there is no baseline: what is being learned, and until when.
  std::optional<rules::Baseline> learning_;
  int64_t learn_until_ = 0;
  std::chrono::milliseconds learn_for_{0};
  api::LiveState* live_ = nullptr;
  std::string rules_json_;  // of the rules in force, for the API
  void PublishRules();
  notify::WorkerSettings notify_settings_;          // for the notifier, as configured last
  bool notifications_ = false;                      // StartNotifications was called
  std::unique_ptr<notify::OutboxWorker> notifier_;  // null until started
};

// Where the baseline lives when the config does not say: beside the database.
std::string DefaultBaselinePath(const std::string& database);

}  // namespace portwatch::agent
