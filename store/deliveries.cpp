#include "store/deliveries.h"

#include <fmt/format.h>

#include <array>

namespace portwatch::store {

namespace {

constexpr std::array<std::string_view, 4> kStatusNames = {"pending", "delivered", "failed",
                                                          "skipped"};

constexpr std::string_view kSelect =
    "SELECT d.id, d.event_id, d.target, d.status, d.created_at, d.attempts, d.next_attempt_at, "
    "d.last_attempt_at, d.response_code, d.last_error, e.alert_id, e.kind, e.at "
    "FROM deliveries d JOIN alert_events e ON e.id = d.event_id ";

Delivery ReadDelivery(const Statement& row) {
  Delivery delivery;
  delivery.id = row.Int(0);
  delivery.event_id = row.Int(1);
  delivery.target = row.Text(2);
  delivery.status = static_cast<DeliveryStatus>(row.Int(3));
  delivery.created_at = row.Int(4);
  delivery.attempts = row.Int(5);
  delivery.next_attempt_at = row.Int(6);
  if (!row.IsNull(7)) delivery.last_attempt_at = row.Int(7);
  if (!row.IsNull(8)) delivery.response_code = row.Int(8);
  delivery.last_error = row.Text(9);
  delivery.alert_id = row.Int(10);
  delivery.event_kind = static_cast<AlertEventKind>(row.Int(11));
  delivery.event_at = row.Int(12);
  return delivery;
}

Result<std::vector<Delivery>> Collect(Statement& statement) {
  std::vector<Delivery> deliveries;
  for (;;) {
    Result<bool> row = statement.Step();
    if (!row) return row.error();
    if (!*row) return deliveries;
    deliveries.push_back(ReadDelivery(statement));
  }
}

// Runs an UPDATE of one delivery by id (?1) and checks that it exists.
Result<void> UpdateOne(Database& db, Statement& update, int64_t id) {
  update.Bind(1, id);
  if (Result<void> run = update.Run(); !run) return run.error();
  if (sqlite3_changes(db.handle()) == 0) {
    return Error{fmt::format("no delivery with id {} in {}", id, db.path())};
  }
  return Ok();
}

}  // namespace

std::string_view DeliveryStatusName(DeliveryStatus status) {
  const auto index = static_cast<size_t>(status) - 1;
  return index < kStatusNames.size() ? kStatusNames[index] : "unknown";
}

std::optional<DeliveryStatus> ParseDeliveryStatus(std::string_view text) {
  for (size_t i = 0; i < kStatusNames.size(); ++i) {
    if (kStatusNames[i] == text) return static_cast<DeliveryStatus>(i + 1);
  }
  return std::nullopt;
}

Result<void> EnqueueDelivery(Database& db, int64_t event_id, std::string_view target, int64_t now) {
  Result<Statement> insert = db.Prepare(
      "INSERT OR IGNORE INTO deliveries(event_id, target, status, created_at, next_attempt_at) "
      "VALUES(?1, ?2, 1, ?3, ?3)");
  if (!insert) return insert.error();
  insert->Bind(1, event_id).Bind(2, target).Bind(3, now);
  return insert->Run();
}

Result<std::vector<Delivery>> DueDeliveries(Database& db, int64_t now, int64_t limit) {
  Result<Statement> select = db.Prepare(fmt::format(
      "{} WHERE d.status = 1 AND d.next_attempt_at <= ?1 ORDER BY d.id LIMIT ?2", kSelect));
  if (!select) return select.error();
  select->Bind(1, now).Bind(2, limit);
  return Collect(*select);
}

Result<std::optional<int64_t>> NextDeliveryDue(Database& db) {
  Result<Statement> select =
      db.Prepare("SELECT min(next_attempt_at) FROM deliveries WHERE status = 1");
  if (!select) return select.error();
  Result<bool> row = select->Step();
  if (!row) return row.error();
  if (!*row || select->IsNull(0)) return std::optional<int64_t>();
  return std::optional<int64_t>(select->Int(0));
}

Result<void> RecordDelivered(Database& db, int64_t id, int64_t now, int64_t response_code) {
  Result<Statement> update = db.Prepare(
      "UPDATE deliveries SET status = 2, attempts = attempts + 1, last_attempt_at = ?2, "
      "response_code = ?3, last_error = '' WHERE id = ?1");
  if (!update) return update.error();
  update->Bind(2, now).Bind(3, response_code);
  return UpdateOne(db, *update, id);
}

Result<void> RecordRetry(Database& db, int64_t id, int64_t now, int64_t next_attempt_at,
                         std::optional<int64_t> response_code, std::string_view error) {
  Result<Statement> update = db.Prepare(
      "UPDATE deliveries SET attempts = attempts + 1, last_attempt_at = ?2, next_attempt_at = ?3, "
      "response_code = ?4, last_error = ?5 WHERE id = ?1");
  if (!update) return update.error();
  update->Bind(2, now).Bind(3, next_attempt_at).Bind(4, response_code).Bind(5, error);
  return UpdateOne(db, *update, id);
}

Result<void> RecordFailed(Database& db, int64_t id, int64_t now,
                          std::optional<int64_t> response_code, std::string_view error) {
  Result<Statement> update = db.Prepare(
      "UPDATE deliveries SET status = 3, attempts = attempts + 1, last_attempt_at = ?2, "
      "response_code = ?3, last_error = ?4 WHERE id = ?1");
  if (!update) return update.error();
  update->Bind(2, now).Bind(3, response_code).Bind(4, error);
  return UpdateOne(db, *update, id);
}

Result<void> RecordSkipped(Database& db, int64_t id, int64_t now, std::string_view why) {
  Result<Statement> update = db.Prepare(
      "UPDATE deliveries SET status = 4, last_attempt_at = ?2, last_error = ?3 WHERE id = ?1");
  if (!update) return update.error();
  update->Bind(2, now).Bind(3, why);
  return UpdateOne(db, *update, id);
}

Result<void> MakePendingDue(Database& db, int64_t now) {
  Result<Statement> update = db.Prepare(
      "UPDATE deliveries SET next_attempt_at = ?1 WHERE status = 1 AND next_attempt_at > ?1");
  if (!update) return update.error();
  update->Bind(1, now);
  return update->Run();
}

Result<void> Postpone(Database& db, int64_t id, int64_t next_attempt_at, std::string_view why) {
  Result<Statement> update = db.Prepare(
      "UPDATE deliveries SET next_attempt_at = ?2, "
      "last_error = CASE WHEN ?3 = '' THEN last_error ELSE ?3 END WHERE id = ?1");
  if (!update) return update.error();
  update->Bind(2, next_attempt_at).Bind(3, why);
  return UpdateOne(db, *update, id);
}

Result<int64_t> ExpireDeliveries(Database& db, int64_t cutoff, std::string_view reason) {
  Result<Statement> update = db.Prepare(
      "UPDATE deliveries SET status = 3, "
      "last_error = CASE WHEN last_error = '' THEN ?2 ELSE ?2 || ': ' || last_error END "
      "WHERE status = 1 AND created_at < ?1");
  if (!update) return update.error();
  update->Bind(1, cutoff).Bind(2, reason);
  if (Result<void> run = update->Run(); !run) return run.error();
  return int64_t{sqlite3_changes(db.handle())};
}

Result<int64_t> RequeueFailed(Database& db, std::optional<int64_t> id, std::string_view target,
                              int64_t now) {
  Result<Statement> update = db.Prepare(
      "UPDATE deliveries SET status = 1, attempts = 0, created_at = ?2, next_attempt_at = ?2 "
      "WHERE status = 3 AND (?1 IS NULL OR id = ?1) AND (?3 = '' OR target = ?3)");
  if (!update) return update.error();
  update->Bind(1, id).Bind(2, now).Bind(3, target);
  if (Result<void> run = update->Run(); !run) return run.error();
  const int64_t requeued = sqlite3_changes(db.handle());
  if (id && requeued == 0) {
    return Error{fmt::format("no failed delivery with id {} in {}", *id, db.path())};
  }
  return requeued;
}

Result<std::vector<Delivery>> ListDeliveries(Database& db, const DeliveryFilter& filter) {
  Result<Statement> select = db.Prepare(
      fmt::format("{} WHERE (?1 IS NULL OR d.status = ?1) AND (?2 = '' OR d.target = ?2) "
                  "AND (?3 IS NULL OR e.alert_id = ?3) ORDER BY d.id DESC LIMIT ?4",
                  kSelect));
  if (!select) return select.error();
  select
      ->Bind(1, filter.status ? std::optional<int64_t>(static_cast<int64_t>(*filter.status))
                              : std::nullopt)
      .Bind(2, filter.target)
      .Bind(3, filter.alert_id)
      .Bind(4, filter.limit);
  return Collect(*select);
}

Result<std::map<std::string, DeliveryCounts>> CountDeliveries(Database& db) {
  Result<Statement> select =
      db.Prepare("SELECT target, status, count(*) FROM deliveries GROUP BY target, status");
  if (!select) return select.error();
  std::map<std::string, DeliveryCounts> counts;
  for (;;) {
    Result<bool> row = select->Step();
    if (!row) return row.error();
    if (!*row) return counts;
    DeliveryCounts& target = counts[select->Text(0)];
    const int64_t count = select->Int(2);
    switch (static_cast<DeliveryStatus>(select->Int(1))) {
      case DeliveryStatus::kPending:
        target.pending = count;
        break;
      case DeliveryStatus::kDelivered:
        target.delivered = count;
        break;
      case DeliveryStatus::kFailed:
        target.failed = count;
        break;
      case DeliveryStatus::kSkipped:
        target.skipped = count;
        break;
    }
  }
}

Result<std::string> OutboxId(Database& db) {
  Result<Statement> select = db.Prepare("SELECT value FROM meta WHERE key = 'outbox_id'");
  if (!select) return select.error();
  Result<bool> row = select->Step();
  if (!row) return row.error();
  if (*row) return select->Text(0);
  // INSERT OR IGNORE and read back: two processes racing to make it agree on the first.
  if (Result<void> made = db.Execute(
          "INSERT OR IGNORE INTO meta(key, value) VALUES('outbox_id', lower(hex(randomblob(8))))");
      !made) {
    return made.error();
  }
  select->Reset();
  row = select->Step();
  if (!row) return row.error();
  if (!*row) return Error{fmt::format("cannot keep an outbox id in {}", db.path())};
  return select->Text(0);
}

}  // namespace portwatch::store
