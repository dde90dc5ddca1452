#include "agent/notify/outbox_worker.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>
#include <system_error>

#include "agent/notify/outbox.h"
#include "store/alerts.h"
#include "store/history_writer.h"

namespace portwatch::agent::notify {

namespace {

// How often the worker looks for due rows when nothing wakes it.
constexpr std::chrono::milliseconds kPoll{1000};
// How long it waits before trying again when the database cannot be written.
constexpr std::chrono::milliseconds kStoreRetry{5000};
constexpr int64_t kBatch = 200;

int64_t NowMillis() { return store::ToMillis(std::chrono::system_clock::now()); }

std::string HumanDuration(std::chrono::milliseconds duration) {
  const int64_t ms = duration.count();
  if (ms % 3'600'000 == 0) return fmt::format("{}h", ms / 3'600'000);
  if (ms % 60'000 == 0) return fmt::format("{}m", ms / 60'000);
  if (ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  return fmt::format("{}ms", ms);
}

// The receiver's reason, on one line and short enough for a log line and a table cell.
std::string Excerpt(std::string_view body) {
  std::string line;
  for (const char c : body.substr(0, 200)) line += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  return line;
}

std::string Describe(const HttpResponse& response) {
  if (response.status == 0) return response.error;
  if (response.status >= 300 && response.status < 400) {
    return fmt::format(
        "HTTP {}: the URL redirects elsewhere; set the target's URL to where it "
        "points",
        response.status);
  }
  const std::string excerpt = Excerpt(response.body);
  return excerpt.empty() ? fmt::format("HTTP {}", response.status)
                         : fmt::format("HTTP {}: {}", response.status, excerpt);
}

enum class Outcome {
  kDelivered,
  kTargetDown,     // the target as a whole: wait, and hold its other deliveries back
  kMessageFailed,  // this message only: retry it later, let the others go
  kRefused,        // never going to work as it is
};

Outcome Classify(const HttpResponse& response) {
  const int status = response.status;
  if (response.ok()) return Outcome::kDelivered;
  if (status == 0 || status == 408 || status == 429 || status == 502 || status == 503 ||
      status == 504) {
    return Outcome::kTargetDown;
  }
  if (status >= 500) return Outcome::kMessageFailed;
  return Outcome::kRefused;
}

const Target* Find(const WorkerSettings& settings, const std::string& name) {
  for (const std::shared_ptr<const Target>& target : settings.targets) {
    if (target->config().name == name) return target.get();
  }
  return nullptr;
}

// Why a delivery the target took when it was queued is no longer wanted, or empty.
std::string NoLongerWanted(const TargetConfig& target, const store::Alert& alert,
                           store::AlertEventKind event, int64_t now) {
  if (Takes(target, alert, event, now)) return "";
  if (alert.accepted) return "not sent: the alert was accepted while this waited";
  if (alert.silenced_until && *alert.silenced_until > now) {
    return "not sent: the alert was silenced while this waited";
  }
  return fmt::format(
      "not sent: target '{}' no longer takes this alert (min_severity, rules or "
      "send_resolved changed)",
      target.name);
}

}  // namespace

Result<std::unique_ptr<OutboxWorker>> OutboxWorker::Start(const std::string& database,
                                                          WorkerSettings settings) {
  Result<store::Database> db = store::Database::Open(database);
  if (!db) return db.error();
  Result<std::string> id = store::OutboxId(*db);
  if (!id) return id.error();
  auto worker = std::unique_ptr<OutboxWorker>(
      new OutboxWorker(std::move(db).value(), std::move(id).value(), std::move(settings)));
  try {
    worker->thread_ = std::thread([raw = worker.get()] { raw->Run(); });
  } catch (const std::system_error& error) {
    return Error{fmt::format("cannot start the notification thread: {}", error.what())};
  }
  return worker;
}

OutboxWorker::OutboxWorker(store::Database db, std::string outbox_id, WorkerSettings settings)
    : db_(std::move(db)), outbox_id_(std::move(outbox_id)), settings_(std::move(settings)) {}

OutboxWorker::~OutboxWorker() { Stop(); }

void OutboxWorker::Wake() {
  {
    const std::lock_guard lock(mutex_);
    woken_ = true;
  }
  wake_.notify_one();
}

void OutboxWorker::Configure(WorkerSettings settings) {
  {
    const std::lock_guard lock(mutex_);
    settings_ = std::move(settings);
    ++generation_;
    woken_ = true;
  }
  wake_.notify_one();
}

void OutboxWorker::Stop() {
  {
    // Under the lock, so the thread cannot miss it between checking and starting to wait.
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  sender_.Stop();
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void OutboxWorker::Run() {
  while (!stopping_) {
    WorkerSettings settings;
    bool targets_changed = false;
    {
      const std::lock_guard lock(mutex_);
      settings = settings_;
      targets_changed = generation_ != seen_generation_;
      seen_generation_ = generation_;
      woken_ = false;
    }
    settings.context.outbox_id = outbox_id_;
    Pass(settings, targets_changed);
    ++passes_;
    const std::chrono::milliseconds pause = Pause(settings);
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, pause, [this] { return woken_ || stopping_; });
  }
}

void OutboxWorker::Pass(const WorkerSettings& settings, bool targets_changed) {
  pass_failed_ = false;
  std::erase_if(states_, [&](const auto& entry) { return Find(settings, entry.first) == nullptr; });
  const int64_t now = NowMillis();
  // At the start, and when the targets change, rows wait only on what this worker knows: so a
  // row postponed by an earlier run (or for a target the config lacked) goes in its turn, and a
  // newer row never overtakes it.
  if (!targets_changed || Stored(store::MakePendingDue(db_, now), "make pending rows due")) {
    Expire(settings, now);
    if (!pass_failed_) Deliver(settings, now);
    if (!pass_failed_) Resend(settings, now);
  }
  if (store_failing_ && !pass_failed_) spdlog::info("notify: the outbox is writable again");
  store_failing_ = pass_failed_;
}

bool OutboxWorker::Stored(const Result<void>& result, std::string_view what) {
  if (result) return true;
  if (!store_failing_ && !pass_failed_) {
    spdlog::error("notify: cannot {} in {}: {}; deliveries wait, retrying every {} s", what,
                  db_.path(), result.error().message, kStoreRetry.count() / 1000);
  }
  pass_failed_ = true;
  return false;
}

std::chrono::milliseconds OutboxWorker::Pause(const WorkerSettings& settings) {
  if (pass_failed_) return kStoreRetry;
  // Until the next row is due (a retry, a rate limit) or the next re-send, at most kPoll.
  int64_t wake_at = NowMillis() + kPoll.count();
  if (Result<std::optional<int64_t>> due = store::NextDeliveryDue(db_); due && *due) {
    wake_at = std::min(wake_at, **due);
  }
  for (const std::shared_ptr<const Target>& target : settings.targets) {
    const auto state = states_.find(target->config().name);
    if (target->resend_every().count() > 0 && state != states_.end()) {
      wake_at = std::min(wake_at, state->second.next_resend);
    }
  }
  return std::chrono::milliseconds(std::max<int64_t>(10, wake_at - NowMillis()));
}

void OutboxWorker::Expire(const WorkerSettings& settings, int64_t now) {
  const std::string reason =
      fmt::format("not delivered within {} (notify.max_age)", HumanDuration(settings.max_age));
  Result<int64_t> expired = store::ExpireDeliveries(db_, now - settings.max_age.count(), reason);
  if (!expired) {
    Stored(expired.error(), "expire old deliveries");
  } else if (*expired > 0) {
    spdlog::error("notify: {} deliveries {}; marked failed (see portwatch notify status)", *expired,
                  reason);
  }
}

std::chrono::milliseconds OutboxWorker::Backoff(const WorkerSettings& settings, int64_t attempts) {
  // Exponential, doubling from retry_initial and capped at retry_max; "equal jitter" (half fixed,
  // half random) spreads agents that lost the same receiver at the same moment.
  int64_t delay = settings.retry_initial.count();
  for (int64_t i = 1; i < attempts && delay < settings.retry_max.count(); ++i) delay *= 2;
  delay = std::min(delay, settings.retry_max.count());
  static thread_local std::mt19937_64 random{std::random_device{}()};
  std::uniform_int_distribution<int64_t> jitter(0, delay / 2);
  return std::chrono::milliseconds(delay - delay / 2 + jitter(random));
}

void OutboxWorker::Deliver(const WorkerSettings& settings, int64_t now) {
  Result<std::vector<store::Delivery>> due = store::DueDeliveries(db_, now, kBatch);
  if (!due) {
    Stored(due.error(), "read the outbox");
    return;
  }
  for (const store::Delivery& row : *due) {
    if (stopping_ || pass_failed_) return;
    if (unrecorded_.contains(row.id)) {
      // Sent already; only the write saying so is missing.
      if (Stored(store::RecordDelivered(db_, row.id, NowMillis(), 200), "record a delivery")) {
        unrecorded_.erase(row.id);
      }
      continue;
    }
    const Target* target = Find(settings, row.target);
    if (target == nullptr) {
      // Kept, not failed: the target may come back with a reload (which makes the row due again);
      // max_age ends it otherwise.
      Stored(store::Postpone(
                 db_, row.id, now + settings.retry_max.count(),
                 fmt::format("no target named '{}' in the config; waiting for one", row.target)),
             "postpone a delivery");
      continue;
    }
    const TargetConfig& config = target->config();
    TargetState& state = states_[row.target];
    const int64_t current = NowMillis();
    if (config.rate_limit > 0) {
      std::erase_if(state.sent,
                    [&](int64_t at) { return at <= current - config.rate_period.count(); });
      if (state.sent.size() >= static_cast<size_t>(config.rate_limit)) {
        state.blocked_until =
            std::max(state.blocked_until, state.sent.front() + config.rate_period.count());
      }
    }
    if (state.blocked_until > current) {
      Stored(store::Postpone(db_, row.id, state.blocked_until, ""), "postpone a delivery");
      continue;
    }
    Attempt(settings, *target, row);
  }
}

void OutboxWorker::Attempt(const WorkerSettings& settings, const Target& target,
                           const store::Delivery& row) {
  const TargetConfig& config = target.config();
  TargetState& state = states_[config.name];
  Result<std::optional<store::Alert>> alert = store::FindAlert(db_, row.alert_id);
  if (!alert) {
    Stored(alert.error(), "read an alert");
    return;
  }
  if (!*alert) {
    Stored(store::RecordFailed(db_, row.id, NowMillis(), std::nullopt, "the alert is gone"),
           "record a delivery");
    return;
  }
  if (const std::string why = NoLongerWanted(config, **alert, row.event_kind, NowMillis());
      !why.empty()) {
    Stored(store::RecordSkipped(db_, row.id, NowMillis(), why), "record a delivery");
    return;
  }
  const Message message =
      BuildMessage(**alert, row.event_kind, row.event_id, row.event_at, settings.context);
  const HttpRequest request = target.Render(message);
  const HttpResponse response = sender_.Send(request, {config.ca_file, config.timeout});
  if (stopping_ && response.status == 0) return;  // cut short by Stop: not an attempt
  const int64_t now = NowMillis();
  const std::optional<int64_t> code =
      response.status == 0 ? std::nullopt : std::optional<int64_t>(response.status);
  const std::string where = fmt::format("'{}' ({})", config.name, RedactUrl(request.url));
  const std::string reason = Describe(response);
  switch (Classify(response)) {
    case Outcome::kDelivered:
      if (!Stored(store::RecordDelivered(db_, row.id, now, response.status), "record a delivery")) {
        unrecorded_.insert(row.id);  // never send it again; record it when the store is back
      }
      if (config.rate_limit > 0) state.sent.push_back(now);
      if (state.failing) spdlog::info("notify: target {} takes deliveries again", where);
      state.failing = false;
      state.blocked_until = 0;
      return;
    case Outcome::kRefused:
      spdlog::error(
          "notify: target {} refused alert {} ({}): {}; not retried (fix the target "
          "and run portwatch notify retry)",
          where, row.alert_id, store::AlertEventKindName(row.event_kind), reason);
      Stored(store::RecordFailed(db_, row.id, now, code, reason), "record a delivery");
      return;
    case Outcome::kMessageFailed: {
      const std::chrono::milliseconds delay = Backoff(settings, row.attempts + 1);
      spdlog::warn("notify: target {} failed alert {} ({}): {}; retrying it in {} ms", where,
                   row.alert_id, store::AlertEventKindName(row.event_kind), reason, delay.count());
      Stored(store::RecordRetry(db_, row.id, now, now + delay.count(), code, reason),
             "record a delivery");
      return;
    }
    case Outcome::kTargetDown: {
      // The receiver's wish when it says one, but never sooner than our own first step.
      const std::optional<std::chrono::milliseconds> asked =
          (response.status == 429 || response.status == 503) ? target.RetryAfter(response)
                                                             : std::nullopt;
      const std::chrono::milliseconds delay =
          asked ? std::max(*asked, settings.retry_initial) : Backoff(settings, row.attempts + 1);
      Stored(store::RecordRetry(db_, row.id, now, now + delay.count(), code, reason),
             "record a delivery");
      state.blocked_until = now + delay.count();
      if (!state.failing) {
        spdlog::warn("notify: target {}: {}; retrying {}", where, reason,
                     asked ? fmt::format("after {} ms, as the receiver asked", delay.count())
                           : "with backoff; deliveries wait in the outbox");
      } else {
        spdlog::debug("notify: target {}: {}; next attempt in {} ms", where, reason, delay.count());
      }
      state.failing = true;
      return;
    }
  }
}

void OutboxWorker::Resend(const WorkerSettings& settings, int64_t now) {
  for (const std::shared_ptr<const Target>& target : settings.targets) {
    const std::chrono::milliseconds every = target->resend_every();
    if (every.count() <= 0 || stopping_) continue;
    TargetState& state = states_[target->config().name];
    if (state.next_resend == 0) state.next_resend = now + every.count();
    if (state.blocked_until > now) {
      // Down: the re-send waits with the rest (and must not keep the thread awake meanwhile).
      state.next_resend = std::max(state.next_resend, state.blocked_until);
      continue;
    }
    if (now < state.next_resend) continue;
    state.next_resend = now + every.count();
    store::AlertFilter filter;
    filter.active_only = true;
    Result<std::vector<store::Alert>> active = store::ListAlerts(db_, filter);
    if (!active) {
      Stored(active.error(), "read the active alerts");
      return;
    }
    std::vector<Message> messages;
    for (const store::Alert& alert : *active) {
      if (!Takes(target->config(), alert, store::AlertEventKind::kOpened, now)) continue;
      messages.push_back(
          BuildMessage(alert, store::AlertEventKind::kOpened, 0, now, settings.context));
    }
    if (messages.empty()) continue;
    const HttpRequest request = target->RenderActive(messages);
    const HttpResponse response =
        sender_.Send(request, {target->config().ca_file, target->config().timeout});
    if (!response.ok() && !stopping_) {
      spdlog::debug("notify: re-sending {} active alerts to '{}' ({}): {}", messages.size(),
                    target->config().name, RedactUrl(request.url), Describe(response));
    }
  }
}

}  // namespace portwatch::agent::notify
