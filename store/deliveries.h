// Deliveries: the notification outbox in SQLite — one row per (alert event, target).
//
// The agent's loop enqueues rows in the same transaction as the alert event they announce; the
// outbox worker, on its own connection, takes the due ones and records each attempt. A row ends
// delivered or failed (with the receiver's status and the reason); none is deleted before its
// alert is. Every function runs on the caller's connection; not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/alerts.h"
#include "store/database.h"

namespace portwatch::store {

// Stored: never renumber.
// kSkipped: not sent, on purpose — the alert was silenced or accepted while it waited.
enum class DeliveryStatus : uint8_t { kPending = 1, kDelivered = 2, kFailed = 3, kSkipped = 4 };
// "pending", "delivered", "failed", "skipped"
std::string_view DeliveryStatusName(DeliveryStatus status);
std::optional<DeliveryStatus> ParseDeliveryStatus(std::string_view text);

struct Delivery {
  int64_t id = 0;
  int64_t event_id = 0;
  std::string target;
  DeliveryStatus status = DeliveryStatus::kPending;
  int64_t created_at = 0;
  int64_t attempts = 0;
  int64_t next_attempt_at = 0;
  std::optional<int64_t> last_attempt_at;
  std::optional<int64_t> response_code;
  std::string last_error;
  // The event it announces.
  int64_t alert_id = 0;
  AlertEventKind event_kind = AlertEventKind::kOpened;
  int64_t event_at = 0;
};

// Queues event `event_id` for `target`, due now. Queuing the same pair again does nothing.
Result<void> EnqueueDelivery(Database& db, int64_t event_id, std::string_view target, int64_t now);

// Pending rows due at `now`, oldest first.
Result<std::vector<Delivery>> DueDeliveries(Database& db, int64_t now, int64_t limit);
// When the next pending row is due; nullopt when none is pending.
Result<std::optional<int64_t>> NextDeliveryDue(Database& db);

// The outcome of an attempt made at `now` (each counts one attempt).
Result<void> RecordDelivered(Database& db, int64_t id, int64_t now, int64_t response_code);
Result<void> RecordRetry(Database& db, int64_t id, int64_t now, int64_t next_attempt_at,
                         std::optional<int64_t> response_code, std::string_view error);
Result<void> RecordFailed(Database& db, int64_t id, int64_t now,
                          std::optional<int64_t> response_code, std::string_view error);
// Closes a row without sending it, saying why.
Result<void> RecordSkipped(Database& db, int64_t id, int64_t now, std::string_view why);
// Defers a row without counting an attempt (its target is rate limited or backing off).
Result<void> Postpone(Database& db, int64_t id, int64_t next_attempt_at, std::string_view why);

// Makes every pending row due at `now` at the latest: when a worker starts or its targets change,
// so rows wait only on what that worker knows (a backoff, a rate limit), oldest first.
Result<void> MakePendingDue(Database& db, int64_t now);

// Marks failed every row still pending that was queued before `cutoff`, with `reason` before its
// last error; returns how many.
Result<int64_t> ExpireDeliveries(Database& db, int64_t cutoff, std::string_view reason);

// Queues failed rows again, due now with a fresh age and no attempts counted: the operator fixed
// the target. `id` picks one row (an error when it is not failed); nullopt, every failed row, or
// every failed row of `target` when that is not empty. Returns how many.
Result<int64_t> RequeueFailed(Database& db, std::optional<int64_t> id, std::string_view target,
                              int64_t now);

struct DeliveryFilter {
  std::optional<DeliveryStatus> status;
  std::string target;               // empty: every target
  std::optional<int64_t> alert_id;  // only this alert's
  int64_t limit = 100;
};
// Newest first.
Result<std::vector<Delivery>> ListDeliveries(Database& db, const DeliveryFilter& filter);

struct DeliveryCounts {
  int64_t pending = 0;
  int64_t delivered = 0;
  int64_t failed = 0;
  int64_t skipped = 0;
};
// By target name.
Result<std::map<std::string, DeliveryCounts>> CountDeliveries(Database& db);

// A random id made once per database (kept in meta), so that the keys receivers deduplicate on
// ("<id>:<event id>") never repeat across databases, even on hosts that share a name.
Result<std::string> OutboxId(Database& db);

}  // namespace portwatch::store
