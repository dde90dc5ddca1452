// Alerts in SQLite: the rows the AlertTracker writes and the CLI and API read and act on.
//
// The store knows alerts as plain data; what a severity or subject kind means is the agent's.
// Every function runs on the caller's connection; writers wrap several calls in one Transaction.
// Not thread-safe (one connection per thread, as SQLite wants).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "store/database.h"

namespace portwatch::store {

// Stored: never renumber.
enum class AlertStatus : uint8_t { kOpen = 1, kAcknowledged = 2, kResolved = 3 };
std::string_view AlertStatusName(AlertStatus status);  // "open", "acknowledged", "resolved"
std::optional<AlertStatus> ParseAlertStatus(std::string_view text);

// Stored: never renumber.
enum class AlertEventKind : uint8_t {
  kOpened = 1,
  kReopened = 2,
  kResolved = 3,
  kAcknowledged = 4,
  kSilenced = 5,
  kAccepted = 6,
  kEscalated = 7,  // a more severe reason joined
};
std::string_view AlertEventKindName(AlertEventKind kind);

struct Alert {
  int64_t id = 0;
  std::string fingerprint;
  std::string subject;
  int kind = 0;
  int severity = 0;
  AlertStatus status = AlertStatus::kOpen;
  std::string title;
  std::string reasons;  // JSON array
  int64_t count = 1;
  int64_t first_seen = 0;
  int64_t last_seen = 0;
  std::optional<int64_t> resolved_at;
  std::optional<int64_t> silenced_until;
  bool accepted = false;
  std::string first_evidence;  // JSON object
  std::string last_evidence;

  bool active() const { return status != AlertStatus::kResolved; }
};

struct AlertEvent {
  int64_t id = 0;
  int64_t alert_id = 0;
  int64_t at = 0;
  AlertEventKind kind = AlertEventKind::kOpened;
  std::string detail;
};

// Inserts a new alert (id ignored) and returns its id.
Result<int64_t> InsertAlert(Database& db, const Alert& alert);
// Writes every field of an existing alert.
Result<void> UpdateAlert(Database& db, const Alert& alert);
// Writes what the agent observes of an existing alert (severity, title, reasons, count, last
// seen, last evidence), and its status and resolved_at only when `write_status`, leaving what an
// operator set meanwhile (acknowledged, silenced) alone; an accepted alert is not touched.
Result<void> UpdateAlertObservation(Database& db, const Alert& alert, bool write_status);
Result<int64_t> InsertAlertEvent(Database& db, const AlertEvent& event);

// Active alerts, and those resolved at or after `resolved_since` (which may still reopen).
Result<std::vector<Alert>> LiveAlerts(Database& db, int64_t resolved_since);

struct AlertFilter {
  std::optional<AlertStatus> status;
  bool active_only = false;  // open or acknowledged
  std::optional<int> min_severity;
  std::string rule;  // alerts with a reason from this rule
  int64_t limit = 1000;
};
// Newest first.
Result<std::vector<Alert>> ListAlerts(Database& db, const AlertFilter& filter);
Result<std::optional<Alert>> FindAlert(Database& db, int64_t id);
Result<std::vector<AlertEvent>> AlertEvents(Database& db, int64_t alert_id);

// The operator's actions. Each is one transaction and records an event; acting on an alert that
// does not exist is an error naming the id.
Result<Alert> AcknowledgeAlert(Database& db, int64_t id, int64_t now);
Result<Alert> SilenceAlert(Database& db, int64_t id, int64_t until, int64_t now);
// Accepts what the alert is about: each rule in its reasons on its subject, at that reason's
// severity and with the executable it names (reasons' "exe", "exe_device", "exe_inode",
// "exe_mtime_ns"), replacing an earlier acceptance of the same (subject, rule); resolves the
// alert. A rule not among them, a higher severity or another executable still alerts.
Result<Alert> AcceptAlert(Database& db, int64_t id, int64_t now);

struct Acceptance {
  int64_t id = 0;
  std::string subject;
  std::string rule;
  int severity = 0;         // the highest accepted
  std::string exe;          // empty: any
  uint64_t exe_device = 0;  // 0 with inode 0: not compared
  uint64_t exe_inode = 0;
  int64_t exe_mtime_ns = 0;
  int64_t accepted_at = 0;
  std::optional<int64_t> alert_id;  // the alert accepted (null once it is deleted)
};
// Every acceptance, oldest first.
Result<std::vector<Acceptance>> ListAcceptances(Database& db);
// Undoes acceptance `id` (its findings alert again); an error naming the id when there is none.
Result<Acceptance> RemoveAcceptance(Database& db, int64_t id);

// Changes whenever another connection commits to the database (PRAGMA data_version), so a
// long-lived reader knows when to look again.
Result<int64_t> DataVersion(Database& db);

}  // namespace portwatch::store
