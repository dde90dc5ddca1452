#include "agent/loop.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

#include "store/retention.h"

namespace portwatch::agent {

void ApplyLogLevel(const std::string& level) { spdlog::set_level(spdlog::level::from_str(level)); }

Result<std::unique_ptr<Loop>> Loop::Create(const Config& config, const std::string& database,
                                           bool rules) {
  Result<store::Database> db = store::Database::Open(database);
  if (!db) return db.error();
  auto owned = std::make_unique<store::Database>(std::move(db).value());
  Result<store::HistoryWriter> writer = store::HistoryWriter::Create(*owned);
  if (!writer) return writer.error();
  auto loop = std::unique_ptr<Loop>(new Loop(config, std::move(owned), std::move(writer).value()));
  if (rules) {
    Result<std::unique_ptr<RulesStage>> stage = RulesStage::Create(config, *loop->db_);
    if (!stage) return stage.error();
    loop->rules_ = std::move(stage).value();
  }
  loop->Apply(config);
  return loop;
}

Loop::Loop(Config config, std::unique_ptr<store::Database> db, store::HistoryWriter writer)
    : config_(std::move(config)),
      collector_(collectors::MakeCollector({})),
      db_(std::move(db)),
      writer_(std::move(writer)) {}

Result<void> Loop::StartNotifications() { return rules_ ? rules_->StartNotifications() : Ok(); }

void Loop::Publish(api::LiveState& live) {
  live_ = &live;
  live_->SetInterval(config_.interval);
  if (rules_) rules_->set_live(live_);
}

void Loop::Apply(const Config& config) {
  const std::string database = config_.database;
  config_ = config;
  config_.database = database;  // the open database stays until a restart
  next_prune_ = {};             // new retention limits apply at the next interval
  // Wait at most a quarter interval for a lock held elsewhere: a locked database costs that
  // interval's write (folded into the next), not the loop's cadence.
  db_->SetBusyTimeout(std::min(config_.interval / 4, std::chrono::milliseconds(250)));
  if (live_ != nullptr) live_->SetInterval(config_.interval);
}

std::optional<Error> Loop::Observe(const collectors::Snapshot& snapshot) {
  if (!rules_) return std::nullopt;
  StageStats observed = rules_->Observe(snapshot);
  if (observed.store_error) {
    if (!rules_failing_) {
      spdlog::error(
          "cannot record alerts in {}: {}; detection goes on, the alerts are logged and kept in "
          "memory (up to {} events) until the database takes them",
          db_->path(), observed.store_error->message, AlertTracker::kMaxQueuedEvents);
    }
    rules_failing_ = true;
  } else if (rules_failing_) {
    spdlog::warn("recording alerts again: {} events that waited are stored", observed.stored_late);
    rules_failing_ = false;
  }
  if (observed.dropped_events > dropped_events_) {
    spdlog::error(
        "{} alert events could not be kept for the database (its queue of {} is full); they "
        "were logged and published only",
        observed.dropped_events - dropped_events_, AlertTracker::kMaxQueuedEvents);
    dropped_events_ = observed.dropped_events;
  }
  spdlog::debug("rules: {} findings, {} alert changes in {} us", observed.findings,
                observed.changes,
                std::chrono::duration_cast<std::chrono::microseconds>(observed.rules_time).count());
  return std::move(observed.store_error);
}

void Loop::Prune() {
  constexpr auto kPruneEvery = std::chrono::minutes(1);
  const auto started = std::chrono::steady_clock::now();
  if (started < next_prune_) return;
  next_prune_ = started + kPruneEvery;
  // Bounded so retention never delays the next snapshot by much.
  const auto deadline = started + std::chrono::milliseconds(50);
  const int64_t now = store::ToMillis(std::chrono::system_clock::now());
  while (std::chrono::steady_clock::now() < deadline) {
    Result<store::PruneStats> pruned = store::PruneBatch(*db_, config_.retention, now);
    if (!pruned) {
      spdlog::warn("cannot prune {}: {}", db_->path(), pruned.error().message);
      return;
    }
    if (pruned->processes_deleted > 0) writer_.ForgetProcesses();
    if (!pruned->more) return;
  }
  next_prune_ = started;  // a backlog is left: go on next interval
}

LoopResult Loop::Run(SignalFlags& flags, std::optional<std::chrono::milliseconds> duration,
                     const std::function<std::optional<Config>()>& reload) {
  LoopResult result;
  const auto started = std::chrono::steady_clock::now();
  auto next = started;
  while (!flags.stop.load()) {
    if (flags.reload.exchange(false) && reload) {
      if (std::optional<Config> fresh = reload()) {
        if (Result<void> reloaded = rules_ ? rules_->Reload(*fresh) : Ok(); !reloaded) {
          spdlog::error("rules not reloaded, keeping the running ones: {}",
                        reloaded.error().message);
        }
        Apply(*fresh);
        ApplyLogLevel(fresh->log_level);
      }
    }
    // 1. Collect and write.
    Result<collectors::Snapshot> snapshot = collector_->Collect();
    if (!snapshot) {
      result.error = snapshot.error();
      break;
    }
    std::optional<Error> store_error;
    if (Result<store::WriteStats> written = writer_.Write(*snapshot); written) {
      spdlog::debug(
          "interval: {} sockets, {} opened, {} closed, {} changed in {} us",
          snapshot->sockets.size(), written->opened, written->closed, written->changed,
          std::chrono::duration_cast<std::chrono::microseconds>(snapshot->duration).count());
    } else {
      ++result.failed_writes;
      store_error = written.error();
    }
    // 2. Rules and alerts, whatever the store did: a full disk or a held lock must not blind
    //    detection.
    if (std::optional<Error> alerts_error = Observe(*snapshot); alerts_error && !store_error) {
      store_error = std::move(alerts_error);
    }
    if (!store_error) {
      Prune();
      // A failed checkpoint loses nothing (the log keeps the data) and is retried every interval;
      // its usual cause, a full disk, is already reported by the write that fails next.
      Result<void> checkpointed = db_->Checkpoint();
      if (!checkpointed && !checkpoint_failing_) {
        spdlog::debug("{}; retrying every interval", checkpointed.error().message);
      }
      checkpoint_failing_ = !checkpointed;
    }
    if (live_ != nullptr) {
      // The current state stays current even while the history cannot be written.
      live_->SetStoreBehind(writer_.behind());
      live_->SetStoreError(store_error ? store_error->message : std::string());
      live_->PublishSnapshot(std::make_shared<const collectors::Snapshot>(std::move(*snapshot)));
    }
    ++result.intervals;

    // 3. Sleep to the next tick in short steps, so a stop request is honoured within 100 ms.
    next += config_.interval;
    const auto now = std::chrono::steady_clock::now();
    if (duration && now - started + config_.interval > *duration) break;
    if (next < now) next = now;  // a slow interval delays the next one rather than bunching up
    while (!flags.stop.load() && !flags.reload.load() && std::chrono::steady_clock::now() < next) {
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
          next - std::chrono::steady_clock::now(), std::chrono::milliseconds(100)));
    }
  }
  result.behind = writer_.behind();
  return result;
}

}  // namespace portwatch::agent
