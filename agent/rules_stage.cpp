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
  Result<AlertTracker> tracker = AlertTracker::Create(db, {config.reopen_within});
  if (!tracker) return tracker.error();
  auto stage = std::unique_ptr<RulesStage>(new RulesStage(db, std::move(tracker).value()));
  if (Result<void> configured = stage->Configure(config); !configured) {
    return configured.error();
  }
  return stage;
}

Result<void> RulesStage::Reload(const Config& config) { return Configure(config); }

Result<void> RulesStage::Configure(const Config& config) {
  // Everything is built first and swapped in at the end: a failure changes nothing.
  Result<std::vector<std::string>> files = rules::ExpandRulePaths(config.rules);
  if (!files) return files.error();
  Result<rules::RuleSet> rule_set = rules::LoadRules(*files);
  if (!rule_set) return rule_set.error();
  auto engine = std::make_unique<rules::Engine>(*rule_set);
  engine->SetSelf(static_cast<int32_t>(getpid()));

  const std::string baseline_path =
      config.baseline.empty() ? DefaultBaselinePath(db_->path()) : config.baseline;
  std::optional<rules::Baseline> baseline;
  if (std::filesystem::exists(baseline_path)) {
    Result<rules::Baseline> loaded = rules::Baseline::Load(baseline_path);
    if (!loaded) return loaded.error();
    baseline = std::move(loaded).value();
  }
  Result<std::unordered_set<std::string>> accepted = store::AcceptedSubjects(*db_);
  if (!accepted) return accepted.error();

  std::unique_ptr<EventLog> events;
  if (!config.events.empty() && (events_ == nullptr || events_->path() != config.events)) {
    Result<std::unique_ptr<EventLog>> opened = EventLog::Open(config.events);
    if (!opened) return opened.error();
    events = std::move(opened).value();
  }

  if (baseline) {
    engine->SetBaseline(std::move(baseline));
    learning_.reset();
  } else if (learning_) {
    engine->SetBaseline(std::nullopt);  // still learning: carry on
  } else if (engine_ && engine_->baseline()) {
    // Learned but not saved (the save failed): keep it rather than learn anew what listens now.
    engine->SetBaseline(engine_->baseline());
    if (Result<void> saved = engine_->baseline()->Save(baseline_path, "portwatch baseline");
        !saved) {
      spdlog::error("cannot save the baseline: {}; using it in memory", saved.error().message);
    }
  } else {
    learning_.emplace();
    learn_until_ = 0;  // set by the first snapshot
    learn_for_ = config.learn_for;
    spdlog::info("no baseline at {}: learning the listeners present {}", baseline_path,
                 config.learn_for.count() == 0
                     ? std::string("at the start")
                     : fmt::format("during the first {} s", config.learn_for.count() / 1000));
  }
  std::vector<std::shared_ptr<const notify::Target>> targets;
  for (const notify::TargetConfig& target : config.notify.targets) {
    Result<std::unique_ptr<notify::Target>> made = notify::MakeTarget(target);
    if (!made) return made.error();
    targets.push_back(std::move(made).value());
  }
  notify::WorkerSettings settings;
  settings.targets = targets;
  settings.context.host = config.notify.host.empty() ? notify::HostName() : config.notify.host;
  settings.context.dashboard_url = config.notify.dashboard_url;
  settings.max_age = config.notify.max_age;
  settings.retry_initial = config.notify.retry_initial;
  settings.retry_max = config.notify.retry_max;
  notify_settings_ = settings;
  if (notifier_) {
    notifier_->Configure(std::move(settings));
  } else if (notifications_) {
    if (Result<void> started = StartNotifications(); !started) return started.error();
  }
  if (!targets.empty()) {
    spdlog::info("notify: {} targets: {}", targets.size(),
                 fmt::join(config.notify.targets |
                               std::views::transform([](const notify::TargetConfig& target) {
                                 return fmt::format("{} ({})", target.name, target.type);
                               }),
                           ", "));
  }
  tracker_.set_outbox(std::make_shared<const notify::Outbox>(config.notify.targets));
  engine->SetAccepted(std::move(accepted).value());
  spdlog::info("rules: {} detectors and {} rules from {} files", engine->detector_count(),
               engine->rule_count(), files->size());
  engine_ = std::move(engine);
  baseline_path_ = baseline_path;
  rules_json_ = rules::RulesJson(*rule_set);
  PublishRules();
  if (config.events.empty()) {
    events_.reset();
  } else if (events) {
    events_ = std::move(events);
  }
  tracker_.set_reopen_within(config.reopen_within);
  return Ok();
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

Result<StageStats> RulesStage::Observe(const collectors::Snapshot& snapshot) {
  StageStats stats;
  const int64_t now = store::ToMillis(snapshot.taken_at);
  // 1. What operators did meanwhile (acknowledged, silenced, accepted from the CLI).
  Result<std::optional<std::unordered_set<std::string>>> refreshed = tracker_.Refresh();
  if (!refreshed) return refreshed.error();
  if (*refreshed) engine_->SetAccepted(std::move(**refreshed));
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
  Result<std::vector<AlertChange>> changes = tracker_.Update(snapshot, findings, now);
  if (!changes) return changes.error();
  stats.changes = changes->size();
  for (const AlertChange& change : *changes)
    stats.deliveries += static_cast<size_t>(change.deliveries);
  if (stats.deliveries > 0 && notifier_) notifier_->Wake();
  for (const AlertChange& change : *changes) {
    const store::Alert& alert = change.alert;
    spdlog::info("alert {} {} [{}] {}: {} (seen {} times)", alert.id,
                 store::AlertEventKindName(change.kind),
                 rules::SeverityName(static_cast<rules::Severity>(alert.severity)), alert.title,
                 Reasons(alert), alert.count);
  }

  if (events_) events_->Write(*changes);
  if (live_ != nullptr) {
    for (const AlertChange& change : *changes) {
      live_->PublishAlert(store::AlertEventKindName(change.kind), api::AlertJson(change.alert));
    }
  }
  return stats;
}

}  // namespace portwatch::agent
