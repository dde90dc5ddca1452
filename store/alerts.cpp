#include "store/alerts.h"

#include <fmt/format.h>

#include <array>

#include "store/alert_kinds.h"

namespace portwatch::store {

namespace {

constexpr std::array<std::string_view, 3> kStatusNames = {"open", "acknowledged", "resolved"};
constexpr std::array<std::string_view, 7> kEventNames = {
    "opened", "reopened", "resolved", "acknowledged", "silenced", "accepted", "escalated"};

constexpr std::string_view kColumns =
    "id, fingerprint, subject, kind, severity, status, title, reasons, count, first_seen, "
    "last_seen, resolved_at, silenced_until, accepted, first_evidence, last_evidence";

Alert ReadAlert(const Statement& row) {
  Alert alert;
  alert.id = row.Int(0);
  alert.fingerprint = row.Text(1);
  alert.subject = row.Text(2);
  alert.kind = static_cast<int>(row.Int(3));
  alert.severity = static_cast<int>(row.Int(4));
  alert.status = static_cast<AlertStatus>(row.Int(5));
  alert.title = row.Text(6);
  alert.reasons = row.Text(7);
  alert.count = row.Int(8);
  alert.first_seen = row.Int(9);
  alert.last_seen = row.Int(10);
  if (!row.IsNull(11)) alert.resolved_at = row.Int(11);
  if (!row.IsNull(12)) alert.silenced_until = row.Int(12);
  alert.accepted = row.Int(13) != 0;
  alert.first_evidence = row.Text(14);
  alert.last_evidence = row.Text(15);
  return alert;
}

// Binds every column but id, from ?2 on.
void BindAlert(Statement& statement, const Alert& alert) {
  statement.Bind(2, alert.fingerprint)
      .Bind(3, alert.subject)
      .Bind(4, int64_t{alert.kind})
      .Bind(5, int64_t{alert.severity})
      .Bind(6, static_cast<int64_t>(alert.status))
      .Bind(7, alert.title)
      .Bind(8, alert.reasons)
      .Bind(9, alert.count)
      .Bind(10, alert.first_seen)
      .Bind(11, alert.last_seen)
      .Bind(12, alert.resolved_at)
      .Bind(13, alert.silenced_until)
      .Bind(14, int64_t{alert.accepted ? 1 : 0})
      .Bind(15, alert.first_evidence)
      .Bind(16, alert.last_evidence);
}

Result<std::vector<Alert>> Collect(Statement& statement) {
  std::vector<Alert> alerts;
  for (;;) {
    Result<bool> row = statement.Step();
    if (!row) return row.error();
    if (!*row) return alerts;
    alerts.push_back(ReadAlert(statement));
  }
}

// Loads alert `id`, applies `change`, writes it back with an event, in one transaction.
template <typename Change>
Result<Alert> Act(Database& db, int64_t id, int64_t now, AlertEventKind kind, std::string detail,
                  Change change) {
  Result<Transaction> transaction = Transaction::Begin(db);
  if (!transaction) return transaction.error();
  Result<std::optional<Alert>> found = FindAlert(db, id);
  if (!found) return found.error();
  if (!*found) return Error{fmt::format("no alert with id {} in {}", id, db.path())};
  Alert alert = std::move(**found);
  if (Result<void> allowed = change(alert); !allowed) return allowed.error();
  if (Result<void> updated = UpdateAlert(db, alert); !updated) return updated.error();
  if (Result<int64_t> event = InsertAlertEvent(db, {0, id, now, kind, std::move(detail)}); !event) {
    return event.error();
  }
  if (Result<void> committed = transaction->Commit(); !committed) return committed.error();
  return alert;
}

}  // namespace

std::string_view AlertStatusName(AlertStatus status) {
  const auto index = static_cast<size_t>(status) - 1;
  return index < kStatusNames.size() ? kStatusNames[index] : "unknown";
}

std::optional<AlertStatus> ParseAlertStatus(std::string_view text) {
  for (size_t i = 0; i < kStatusNames.size(); ++i) {
    if (kStatusNames[i] == text) return static_cast<AlertStatus>(i + 1);
  }
  return std::nullopt;
}

std::string_view AlertEventKindName(AlertEventKind kind) {
  const auto index = static_cast<size_t>(kind) - 1;
  return index < kEventNames.size() ? kEventNames[index] : "unknown";
}

Result<int64_t> InsertAlert(Database& db, const Alert& alert) {
  Result<Statement> insert = db.Prepare(
      "INSERT INTO alerts(fingerprint, subject, kind, severity, status, title, reasons, count, "
      "first_seen, last_seen, resolved_at, silenced_until, accepted, first_evidence, "
      "last_evidence) VALUES(?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)");
  if (!insert) return insert.error();
  BindAlert(*insert, alert);
  if (Result<void> run = insert->Run(); !run) return run.error();
  return sqlite3_last_insert_rowid(db.handle());
}

Result<void> UpdateAlert(Database& db, const Alert& alert) {
  Result<Statement> update = db.Prepare(
      "UPDATE alerts SET fingerprint = ?2, subject = ?3, kind = ?4, severity = ?5, status = ?6, "
      "title = ?7, reasons = ?8, count = ?9, first_seen = ?10, last_seen = ?11, resolved_at = "
      "?12, silenced_until = ?13, accepted = ?14, first_evidence = ?15, last_evidence = ?16 "
      "WHERE id = ?1");
  if (!update) return update.error();
  update->Bind(1, alert.id);
  BindAlert(*update, alert);
  return update->Run();
}

Result<void> UpdateAlertObservation(Database& db, const Alert& alert, bool write_status) {
  Result<Statement> update = db.Prepare(
      "UPDATE alerts SET severity = ?2, title = ?3, reasons = ?4, count = ?5, last_seen = ?6, "
      "resolved_at = CASE WHEN ?9 THEN ?7 ELSE resolved_at END, last_evidence = ?8, "
      "status = CASE WHEN ?9 THEN ?10 ELSE status END WHERE id = ?1 AND accepted = 0");
  if (!update) return update.error();
  update->Bind(1, alert.id)
      .Bind(2, int64_t{alert.severity})
      .Bind(3, alert.title)
      .Bind(4, alert.reasons)
      .Bind(5, alert.count)
      .Bind(6, alert.last_seen)
      .Bind(7, alert.resolved_at)
      .Bind(8, alert.last_evidence)
      .Bind(9, int64_t{write_status ? 1 : 0})
      .Bind(10, static_cast<int64_t>(alert.status));
  return update->Run();
}

Result<int64_t> InsertAlertEvent(Database& db, const AlertEvent& event) {
  Result<Statement> insert =
      db.Prepare("INSERT INTO alert_events(alert_id, at, kind, detail) VALUES(?1, ?2, ?3, ?4)");
  if (!insert) return insert.error();
  insert->Bind(1, event.alert_id)
      .Bind(2, event.at)
      .Bind(3, static_cast<int64_t>(event.kind))
      .Bind(4, event.detail);
  if (Result<void> run = insert->Run(); !run) return run.error();
  return sqlite3_last_insert_rowid(db.handle());
}

Result<std::vector<Alert>> LiveAlerts(Database& db, int64_t resolved_since) {
  Result<Statement> query = db.Prepare(fmt::format(
      "SELECT {} FROM alerts WHERE status != 3 OR resolved_at >= ?1 ORDER BY id", kColumns));
  if (!query) return query.error();
  query->Bind(1, resolved_since);
  return Collect(*query);
}

Result<std::vector<Alert>> ListAlerts(Database& db, const AlertFilter& filter) {
  Result<Statement> query = db.Prepare(fmt::format(
      "SELECT {} FROM alerts a WHERE (?1 IS NULL OR status = ?1) AND (?2 = 0 OR status != 3) "
      "AND severity >= ?3 AND (?4 = '' OR EXISTS (SELECT 1 FROM json_each(a.reasons) r WHERE "
      "json_extract(r.value, '$.rule') = ?4)) ORDER BY last_seen DESC, id DESC LIMIT ?5",
      kColumns));
  if (!query) return query.error();
  if (filter.status) query->Bind(1, static_cast<int64_t>(*filter.status));
  query->Bind(2, int64_t{filter.active_only ? 1 : 0})
      .Bind(3, int64_t{filter.min_severity.value_or(0)})
      .Bind(4, filter.rule)
      .Bind(5, filter.limit);
  return Collect(*query);
}

Result<std::optional<Alert>> FindAlert(Database& db, int64_t id) {
  Result<Statement> query =
      db.Prepare(fmt::format("SELECT {} FROM alerts WHERE id = ?1", kColumns));
  if (!query) return query.error();
  query->Bind(1, id);
  Result<std::vector<Alert>> alerts = Collect(*query);
  if (!alerts) return alerts.error();
  if (alerts->empty()) return std::optional<Alert>();
  return std::optional<Alert>(std::move(alerts->front()));
}

Result<std::vector<AlertEvent>> AlertEvents(Database& db, int64_t alert_id) {
  Result<Statement> query = db.Prepare(
      "SELECT id, alert_id, at, kind, detail FROM alert_events WHERE alert_id = ?1 ORDER BY id");
  if (!query) return query.error();
  query->Bind(1, alert_id);
  std::vector<AlertEvent> events;
  for (;;) {
    Result<bool> row = query->Step();
    if (!row) return row.error();
    if (!*row) return events;
    events.push_back({query->Int(0), query->Int(1), query->Int(2),
                      static_cast<AlertEventKind>(query->Int(3)), query->Text(4)});
  }
}

Result<Alert> AcknowledgeAlert(Database& db, int64_t id, int64_t now) {
  return Act(db, id, now, AlertEventKind::kAcknowledged, "", [&](Alert& alert) -> Result<void> {
    if (alert.status == AlertStatus::kResolved) {
      return Error{fmt::format("alert {} is already resolved; nothing to acknowledge", id)};
    }
    alert.status = AlertStatus::kAcknowledged;
    return Ok();
  });
}

Result<Alert> SilenceAlert(Database& db, int64_t id, int64_t until, int64_t now) {
  return Act(db, id, now, AlertEventKind::kSilenced, fmt::format("until {}", until),
             [&](Alert& alert) -> Result<void> {
               alert.silenced_until = until;
               return Ok();
             });
}

Result<Alert> AcceptAlert(Database& db, int64_t id, int64_t now) {
  return Act(db, id, now, AlertEventKind::kAccepted, "", [&](Alert& alert) -> Result<void> {
    // A reason's severity is stored by name; an unknown name accepts up to the alert's.
    std::string severity = "CASE json_extract(r.value, '$.severity')";
    for (int level = 1; level <= 5; ++level) {
      severity += fmt::format(" WHEN '{}' THEN {}", SeverityName(level), level);
    }
    severity += " ELSE ?2 END";
    Result<Statement> accept = db.Prepare(fmt::format(
        "INSERT INTO acceptances(subject, rule, severity, exe, exe_device, exe_inode, "
        "exe_mtime_ns, accepted_at, alert_id) "
        "SELECT ?1, json_extract(r.value, '$.rule'), {}, "
        "coalesce(json_extract(r.value, '$.exe'), ''), "
        "coalesce(json_extract(r.value, '$.exe_device'), 0), "
        "coalesce(json_extract(r.value, '$.exe_inode'), 0), "
        "coalesce(json_extract(r.value, '$.exe_mtime_ns'), 0), ?3, ?4 "
        "FROM json_each(?5) r WHERE json_extract(r.value, '$.rule') IS NOT NULL "
        "ON CONFLICT(subject, rule) DO UPDATE SET severity = excluded.severity, "
        "exe = excluded.exe, exe_device = excluded.exe_device, exe_inode = excluded.exe_inode, "
        "exe_mtime_ns = excluded.exe_mtime_ns, accepted_at = excluded.accepted_at, "
        "alert_id = excluded.alert_id",
        severity));
    if (!accept) return accept.error();
    accept->Bind(1, alert.subject)
        .Bind(2, int64_t{alert.severity})
        .Bind(3, now)
        .Bind(4, id)
        .Bind(5, alert.reasons);
    if (Result<void> run = accept->Run(); !run) return run.error();
    if (sqlite3_changes(db.handle()) == 0) {
      return Error{fmt::format("alert {} names no rule to accept (its reasons are empty)", id)};
    }
    alert.accepted = true;
    if (alert.status != AlertStatus::kResolved) {
      alert.status = AlertStatus::kResolved;
      alert.resolved_at = now;
    }
    return Ok();
  });
}

namespace {

constexpr std::string_view kAcceptanceColumns =
    "id, subject, rule, severity, exe, exe_device, exe_inode, exe_mtime_ns, accepted_at, alert_id";

Result<std::vector<Acceptance>> CollectAcceptances(Statement& query) {
  std::vector<Acceptance> acceptances;
  for (;;) {
    Result<bool> row = query.Step();
    if (!row) return row.error();
    if (!*row) return acceptances;
    Acceptance acceptance;
    acceptance.id = query.Int(0);
    acceptance.subject = query.Text(1);
    acceptance.rule = query.Text(2);
    acceptance.severity = static_cast<int>(query.Int(3));
    acceptance.exe = query.Text(4);
    acceptance.exe_device = static_cast<uint64_t>(query.Int(5));
    acceptance.exe_inode = static_cast<uint64_t>(query.Int(6));
    acceptance.exe_mtime_ns = query.Int(7);
    acceptance.accepted_at = query.Int(8);
    if (!query.IsNull(9)) acceptance.alert_id = query.Int(9);
    acceptances.push_back(std::move(acceptance));
  }
}

}  // namespace

Result<std::vector<Acceptance>> ListAcceptances(Database& db) {
  Result<Statement> query =
      db.Prepare(fmt::format("SELECT {} FROM acceptances ORDER BY id", kAcceptanceColumns));
  if (!query) return query.error();
  return CollectAcceptances(*query);
}

Result<Acceptance> RemoveAcceptance(Database& db, int64_t id) {
  Result<Transaction> transaction = Transaction::Begin(db);
  if (!transaction) return transaction.error();
  Result<Statement> query =
      db.Prepare(fmt::format("SELECT {} FROM acceptances WHERE id = ?1", kAcceptanceColumns));
  if (!query) return query.error();
  query->Bind(1, id);
  Result<std::vector<Acceptance>> found = CollectAcceptances(*query);
  if (!found) return found.error();
  if (found->empty()) {
    return Error{fmt::format(
        "no acceptance with id {} in {}; `portwatch alerts accepted` lists them", id, db.path())};
  }
  Result<Statement> remove = db.Prepare("DELETE FROM acceptances WHERE id = ?1");
  if (!remove) return remove.error();
  remove->Bind(1, id);
  if (Result<void> run = remove->Run(); !run) return run.error();
  if (Result<void> committed = transaction->Commit(); !committed) return committed.error();
  return std::move(found->front());
}

Result<int64_t> DataVersion(Database& db) {
  Result<Statement> query = db.Prepare("PRAGMA data_version");
  if (!query) return query.error();
  Result<bool> row = query->Step();
  if (!row) return row.error();
  return query->Int(0);
}

}  // namespace portwatch::store
