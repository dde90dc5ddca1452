#include "agent/notify/outbox_worker.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>

#include "agent/notify/outbox.h"
#include "store/alerts.h"
#include "store/history_writer.h"

namespace portwatch::agent::notify {

namespace {

// How often the worker looks for due rows when nothing wakes it.
constexpr std::chrono::milliseconds kPoll{1000};
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
  const std::string excerpt = Excerpt(response.body);
  return excerpt.empty() ? fmt::format("HTTP {}", response.status)
                         : fmt::format("HTTP {}: {}", response.status, excerpt);
}

enum class Outcome { kDelivered, kRetry, kFailed };

Outcome Classify(const HttpResponse& response) {
  if (response.ok()) return Outcome::kDelivered;
  const int status = response.status;
  if (status >= 400 && status < 500 && status != 408 && status != 429) return Outcome::kFailed;
  return Outcome::kRetry;
}

const Target* Find(const WorkerSettings& settings, const std::string& name) {
  for (const std::shared_ptr<const Target>& target : settings.targets) {
    if (target->config().name == name) return target.get();
  }
  return nullptr;
}

}  // namespace

Result<std::unique_ptr<OutboxWorker>> OutboxWorker::Start(const std::string& database,
                                                          WorkerSettings settings) {
  Result<store::Database> db = store::Database::Open(database);
  if (!db) return db.error();
  auto worker =
      std::unique_ptr<OutboxWorker>(new OutboxWorker(std::move(db).value(), std::move(settings)));
  worker->thread_ = std::thread([raw = worker.get()] { raw->Run(); });
  return worker;
}

OutboxWorker::OutboxWorker(store::Database db, WorkerSettings settings)
    : db_(std::move(db)), settings_(std::move(settings)) {}

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
    woken_ = true;
  }
  wake_.notify_one();
}

void OutboxWorker::Stop() {
  stopping_ = true;
  sender_.Stop();
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void OutboxWorker::Run() {
  while (!stopping_) {
    WorkerSettings settings;
    {
      const std::lock_guard lock(mutex_);
      settings = settings_;
      woken_ = false;
    }
    const int64_t now = NowMillis();
    Expire(settings, now);
    Deliver(settings, now);
    Resend(settings, now);

    // Sleep until the next row is due (a retry, a rate limit, a re-send), at most kPoll.
    int64_t wake_at = NowMillis() + kPoll.count();
    if (Result<std::optional<int64_t>> due = store::NextDeliveryDue(db_); due && *due) {
      wake_at = std::min(wake_at, **due);
    }
    for (const auto& [name, state] : states_) {
      if (state.next_resend > 0) wake_at = std::min(wake_at, state.next_resend);
    }
    const auto pause = std::chrono::milliseconds(std::max<int64_t>(10, wake_at - NowMillis()));
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, pause, [this] { return woken_ || stopping_; });
  }
}

void OutboxWorker::Expire(const WorkerSettings& settings, int64_t now) {
  const std::string reason =
      fmt::format("not delivered within {} (notify.max_age)", HumanDuration(settings.max_age));
  Result<int64_t> expired = store::ExpireDeliveries(db_, now - settings.max_age.count(), reason);
  if (!expired) {
    spdlog::warn("notify: cannot expire old deliveries: {}", expired.error().message);
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
    spdlog::warn("notify: cannot read the outbox: {}", due.error().message);
    return;
  }
  for (const store::Delivery& row : *due) {
    if (stopping_) return;
    const Target* target = Find(settings, row.target);
    if (target == nullptr) {
      // Kept, not failed: the target may come back with a reload; max_age ends it otherwise.
      (void)store::Postpone(
          db_, row.id, now + settings.retry_max.count(),
          fmt::format("no target named '{}' in the config; waiting for one", row.target));
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
      (void)store::Postpone(db_, row.id, state.blocked_until, "");
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
    spdlog::warn("notify: cannot read alert {}: {}", row.alert_id, alert.error().message);
    return;
  }
  if (!*alert) {
    (void)store::RecordFailed(db_, row.id, NowMillis(), std::nullopt, "the alert is gone");
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
  switch (Classify(response)) {
    case Outcome::kDelivered: {
      if (Result<void> recorded = store::RecordDelivered(db_, row.id, now, response.status);
          !recorded) {
        spdlog::warn("notify: delivered alert {} to {} but cannot record it: {}", row.alert_id,
                     where, recorded.error().message);
      }
      if (config.rate_limit > 0) state.sent.push_back(now);
      if (state.failing) spdlog::info("notify: target {} takes deliveries again", where);
      state.failing = false;
      state.blocked_until = 0;
      return;
    }
    case Outcome::kFailed: {
      const std::string reason = Describe(response);
      spdlog::error(
          "notify: target {} refused alert {} ({}): {}; not retried (fix the target "
          "and run portwatch notify retry)",
          where, row.alert_id, store::AlertEventKindName(row.event_kind), reason);
      (void)store::RecordFailed(db_, row.id, now, code, reason);
      return;
    }
    case Outcome::kRetry: {
      const bool asked =
          (response.status == 429 || response.status == 503) && response.retry_after.has_value();
      const std::chrono::milliseconds delay =
          asked ? *response.retry_after : Backoff(settings, row.attempts + 1);
      const std::string reason = Describe(response);
      (void)store::RecordRetry(db_, row.id, now, now + delay.count(), code, reason);
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
    if (now < state.next_resend || state.blocked_until > now) continue;
    state.next_resend = now + every.count();
    store::AlertFilter filter;
    filter.active_only = true;
    Result<std::vector<store::Alert>> active = store::ListAlerts(db_, filter);
    if (!active) continue;
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
