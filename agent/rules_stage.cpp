#include "agent/rules_stage.h"

#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <ranges>

#include "agent/notify/notify_config.h"
#include "agent/notify/target.h"
#include "agent/rules/rules_json.h"
#include "agent/rules/rules_loader.h"
#include "api/alert_json.h"
#include "store/alerts.h"
#include "store/deliveries.h"
#include "store/history_writer.h"
#include "store/queries.h"

namespace portwatch::agent {

namespace {

std::string Reasons(const store::Alert& alert) {
  nlohmann::json reasons = nlohmann::json::parse(alert.reasons, nullptr, false);
  std::vector<std::string> parts;
  if (reasons.is_array()) {
    for (const auto& reason : reasons) {
      parts.push_back(fmt::format("{} ({})", reason.value("reason", ""), reason.value("rule", "")));
    }
  }
  return fmt::format("{}", fmt::join(parts, "; "));
}

}  // namespace

std::string DefaultBaselinePath(const std::string& database) {
  return (std::filesystem::path(database).parent_path() / "baseline.yaml").string();
}

Result<std::unique_ptr<RulesStage>> RulesStage::Create(const Config& config, store::Database& db) {
  Result<AlertTracker> tracker =
      AlertTracker::Create(db, {config.reopen_within, config.resolve_after});
  if (!tracker) return tracker.error();
  auto stage = std::unique_ptr<RulesStage>(new RulesStage(db, std::move(tracker).value()));
  if (Result<void> configured = stage->Configure(config); !configured) {
    return configured.error();
  }
  return stage;
}

Result<void> RulesStage::Reload(const Config& config) { return Configure(config); }

// A configuration built in full (Configure's steps 1 to 4) before any of it is used.
struct RulesStage::Prepared {
  std::unique_ptr<rules::Engine> engine;
  std::string rules_json;
  size_t files = 0;
  std::string baseline_path;
  std::optional<rules::Baseline> baseline;  // none: there is no baseline file
  std::unique_ptr<EventLog> events;         // null: the one open stays (or none is wanted)
  notify::WorkerSettings notify;
};

Result<void> RulesStage::Configure(const Config& config) {
  // Steps 1 to 4 build everything and may fail, changing nothing; 5 to 7 swap it in.
  Prepared next;
  if (Result<void> done = LoadEngine(config, next); !done) return done.error();
  if (Result<void> done = LoadBaseline(config, next); !done) return done.error();
  if (Result<void> done = OpenEvents(config, next); !done) return done.error();
  if (Result<void> done = MakeTargets(config, next); !done) return done.error();
  AdoptBaseline(config, next);
  if (Result<void> done = ApplyNotifications(config, next); !done) return done.error();
  Install(config, std::move(next));
  return Ok();
}

// 1. The rules files and the detectors, with what operators accepted.
Result<void> RulesStage::LoadEngine(const Config& config, Prepared& next) {
  Result<std::vector<std::string>> files = rules::ExpandRulePaths(config.rules);
  if (!files) return files.error();
  Result<rules::RuleSet> rule_set = rules::LoadRules(*files);
  if (!rule_set) return rule_set.error();
  Result<std::vector<store::Acceptance>> accepted = store::ListAcceptances(*db_);
  if (!accepted) return accepted.error();
  next.engine = std::make_unique<rules::Engine>(*rule_set);
  next.engine->SetSelf(static_cast<int32_t>(getpid()));
  next.engine->SetAccepted(*accepted);
  next.rules_json = rules::RulesJson(*rule_set);
  next.files = files->size();
  return Ok();
}

// 2. The baseline file, when there is one.
Result<void> RulesStage::LoadBaseline(const Config& config, Prepared& next) {
  next.baseline_path = config.baseline.empty() ? DefaultBaselinePath(db_->path()) : config.baseline;
  if (!std::filesystem::exists(next.baseline_path)) return Ok();
  Result<rules::Baseline> loaded = rules::Baseline::Load(next.baseline_path);
  if (!loaded) return loaded.error();
  next.baseline = std::move(loaded).value();
  return Ok();
}

// 3. The events log, when it is wanted and not the one already open.
Result<void> RulesStage::OpenEvents(const Config& config, Prepared& next) {
  if (config.events.empty() || (events_ != nullptr && events_->path() == config.events)) {
    return Ok();
  }
  Result<std::unique_ptr<EventLog>> opened = EventLog::Open(config.events);
  if (!opened) return opened.error();
  next.events = std::move(opened).value();
  return Ok();
}

// 4. The notification targets and the worker's settings.
Result<void> RulesStage::MakeTargets(const Config& config, Prepared& next) {
  for (const notify::TargetConfig& target : config.notify.targets) {
    Result<std::unique_ptr<notify::Target>> made = notify::MakeTarget(target);
    if (!made) return made.error();
    next.notify.targets.push_back(std::move(made).value());
  }
  next.notify.context.host = config.notify.host.empty() ? notify::HostName() : config.notify.host;
  next.notify.context.dashboard_url = config.notify.dashboard_url;
  next.notify.max_age = config.notify.max_age;
  next.notify.retry_initial = config.notify.retry_initial;
  next.notify.retry_max = config.notify.retry_max;
  return Ok();
}

// 5. The baseline the new engine compares with: the file's; else the one being learned, or
//    learned but not saved; else a new one to learn.
void RulesStage::AdoptBaseline(const Config& config, Prepared& next) {
  rules::Engine& engine = *next.engine;
  if (next.baseline) {
    engine.SetBaseline(std::move(next.baseline));
    learning_.reset();
  } else if (learning_) {
    engine.SetBaseline(std::nullopt);  // still learning: carry on
  } else if (engine_ && engine_->baseline()) {
    // Learned but not saved (the save failed): keep it rather than learn anew what listens now.
    engine.SetBaseline(engine_->baseline());
    if (Result<void> saved = engine_->baseline()->Save(next.baseline_path, "portwatch baseline");
        !saved) {
      spdlog::error("cannot save the baseline: {}; using it in memory", saved.error().message);
    }
  } else {
    learning_.emplace();
    learn_until_ = 0;  // set by the first snapshot
    learn_for_ = config.learn_for;
    spdlog::info("no baseline at {}: learning the listeners present {}", next.baseline_path,
                 config.learn_for.count() == 0
                     ? std::string("at the start")
                     : fmt::format("during the first {} s", config.learn_for.count() / 1000));
  }
}

// 6. The notifier: reconfigured when it runs, started when it should run and does not yet.
Result<void> RulesStage::ApplyNotifications(const Config& config, Prepared& next) {
  notify_settings_ = next.notify;
  if (notifier_) {
    notifier_->Configure(std::move(next.notify));
  } else if (notifications_) {
    if (Result<void> started = StartNotifications(); !started) return started.error();
  }
  if (!config.notify.targets.empty()) {
    spdlog::info("notify: {} targets: {}", config.notify.targets.size(),
                 fmt::join(config.notify.targets |
                               std::views::transform([](const notify::TargetConfig& target) {
                                 return fmt::format("{} ({})", target.name, target.type);
                               }),
                           ", "));
  }
  tracker_.set_outbox(std::make_shared<const notify::Outbox>(config.notify.targets));
  return Ok();
}

// 7. The new engine, events log and alert settings in force.
void RulesStage::Install(const Config& config, Prepared next) {
  spdlog::info("rules: {} detectors and {} rules from {} files", next.engine->detector_count(),
               next.engine->rule_count(), next.files);
  engine_ = std::move(next.engine);
  baseline_path_ = next.baseline_path;
  rules_json_ = std::move(next.rules_json);
  PublishRules();
  if (config.events.empty()) {
    events_.reset();
  } else if (next.events) {
    events_ = std::move(next.events);
  }
  tracker_.set_options({config.reopen_within, config.resolve_after});
}

void RulesStage::set_live(api::LiveState* live) {
  live_ = live;
  PublishRules();
}

void RulesStage::PublishRules() {
  if (live_ == nullptr) return;
  const std::string_view state = learning_ ? "learning" : "loaded";
  live_->SetRules(rules_json_, rules::BaselineJson(baseline_path_, state,
                                                   learning_ ? learning_ : engine_->baseline()));
}

Result<void> RulesStage::StartNotifications() {
  notifications_ = true;
  if (notifier_) return Ok();
  if (notify_settings_.targets.empty()) {
    Result<std::optional<int64_t>> pending = store::NextDeliveryDue(*db_);
    if (!pending) return pending.error();
    if (!*pending) return Ok();
    spdlog::warn(
        "notify: deliveries are pending but no target is configured; they fail after "
        "notify.max_age unless their target comes back");
  }
  Result<std::unique_ptr<notify::OutboxWorker>> started =
      notify::OutboxWorker::Start(db_->path(), notify_settings_);
  if (!started) return started.error();
  notifier_ = std::move(started).value();
  return Ok();
}

void RulesStage::Learn(const collectors::Snapshot& snapshot, int64_t now) {
  if (learn_until_ == 0) learn_until_ = now + learn_for_.count();
  const int added = learning_->Learn(snapshot);
  if (added > 0) spdlog::debug("baseline: learned {} listeners", added);
  if (now < learn_until_) return;
  const std::string comment = fmt::format(
      "portwatch baseline: the listeners expected on this host, learned by the agent.\n"
      "Edit freely: an entry allows every listener matching all the fields it sets; a program\n"
      "with a '/' is a glob over the executable's path, else over the process name.");
  if (Result<void> saved = learning_->Save(baseline_path_, comment); !saved) {
    spdlog::error("cannot save the baseline: {}; using it in memory", saved.error().message);
  } else {
    spdlog::info("baseline learned: {} listeners, saved to {}", learning_->entries().size(),
                 baseline_path_);
  }
  engine_->SetBaseline(std::move(learning_));
  learning_.reset();
  PublishRules();
}

StageStats RulesStage::Observe(const collectors::Snapshot& snapshot) {
  StageStats stats;
  const int64_t now = store::ToMillis(snapshot.taken_at);
  // 1. What operators did meanwhile (acknowledged, silenced, accepted from the CLI). A database
  //    that cannot be read only delays this: the rules run on what is known.
  Result<std::optional<std::vector<store::Acceptance>>> refreshed = tracker_.Refresh();
  if (refreshed && *refreshed) engine_->SetAccepted(**refreshed);
  if (!refreshed) spdlog::debug("alerts not refreshed: {}", refreshed.error().message);
  if (learning_) Learn(snapshot, now);

  // 2. Rules, then alerts.
  const auto started = std::chrono::steady_clock::now();
  const std::vector<rules::Finding> findings = engine_->Evaluate(snapshot, now);
  stats.rules_time = std::chrono::steady_clock::now() - started;
  stats.findings = findings.size();
  // The interval's listener events are logged even if the alerts cannot be written.
  if (events_) {
    Result<store::ListenerEvents> listeners = store::ListenerEventsIn(*db_, {now, now});
    if (listeners) events_->Write(*listeners);
  }
  AlertUpdate update = tracker_.Update(snapshot, findings, now);
  stats.changes = update.changes.size();
  stats.stored_late = update.stored_late;
  stats.queued_events = tracker_.queued_events();
  stats.dropped_events = tracker_.dropped_events();
  stats.store_error = std::move(update.store_error);
  for (const AlertChange& change : update.changes)
    stats.deliveries += static_cast<size_t>(change.deliveries);
  if ((stats.deliveries > 0 || stats.stored_late > 0) && notifier_) notifier_->Wake();

  // 3. Every change reaches the log, the events file and the API, stored or not.
  for (const AlertChange& change : update.changes) {
    const store::Alert& alert = change.alert;
    spdlog::info("alert {} {} [{}] {}: {} (seen {} times){}",
                 alert.id != 0 ? std::to_string(alert.id) : std::string("(new)"),
                 store::AlertEventKindName(change.kind),
                 rules::SeverityName(static_cast<rules::Severity>(alert.severity)), alert.title,
                 Reasons(alert), alert.count, change.stored ? "" : "; not stored yet");
  }
  if (events_) events_->Write(update.changes);
  if (live_ != nullptr) {
    for (const AlertChange& change : update.changes) {
      live_->PublishAlert(store::AlertEventKindName(change.kind), api::AlertJson(change.alert));
    }
    live_->SetAlertsUnstored(static_cast<int64_t>(stats.queued_events), stats.dropped_events);
  }
  return stats;
}

}  // namespace portwatch::agent
