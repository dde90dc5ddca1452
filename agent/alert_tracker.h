// AlertTracker: turns each interval's findings into alerts that open, repeat, resolve and reopen,
// so a condition that lasts is one alert, not one a second.
//
// Findings collapse on their subject (one alert per listener, connection or process, whatever
// rules fired about it; its severity is the highest). While the alert is active, a new socket
// behind the same subject bumps its count; when no finding names the subject any more it
// resolves; if it comes back within `reopen_within`, the same alert reopens with its count bumped
// instead of a new alert starting. Every change is written to SQLite in one transaction with its
// event; if the write fails, nothing changes in memory either, and the next interval tries again.
// Acknowledgements, silences and acceptances made by other processes (the CLI) are picked up by
// Refresh. Not thread-safe: the agent's loop owns it.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "agent/notify/outbox.h"
#include "agent/rules/finding.h"
#include "collectors/snapshot.h"
#include "store/alerts.h"
#include "store/database.h"

namespace portwatch::agent {

struct AlertChange {
  int64_t at = 0;
  store::AlertEventKind kind;
  store::Alert alert;    // as written
  int64_t event_id = 0;  // alert_events.id
  int deliveries = 0;    // notifications queued for it
};

class AlertTracker {
 public:
  struct Options {
    std::chrono::milliseconds reopen_within{std::chrono::minutes(10)};
  };

  // Loads the alerts still active (and those recently resolved) from the database.
  static Result<AlertTracker> Create(store::Database& db, Options options);

  // Folds one interval's findings in. Returns what changed (for the events log), in order.
  Result<std::vector<AlertChange>> Update(const collectors::Snapshot& snapshot,
                                          const std::vector<rules::Finding>& findings, int64_t now);

  // When another connection changed the database since the last look, reloads the live alerts'
  // statuses and returns the accepted subjects; nullopt when nothing changed.
  Result<std::optional<std::unordered_set<std::string>>> Refresh();

  // Events written from now on are also queued for the outbox's targets, in the same
  // transaction; null: none are.
  void set_outbox(std::shared_ptr<const notify::Outbox> outbox) { outbox_ = std::move(outbox); }

  size_t active_count() const;
  void set_reopen_within(std::chrono::milliseconds within) { options_.reopen_within = within; }

 private:
  struct Live {
    store::Alert alert;
    std::unordered_set<uint64_t> evidence;  // socket identities behind it last interval
    int64_t persisted_last_seen = 0;
  };
  AlertTracker(store::Database& db, Options options) : db_(&db), options_(options) {}
  Result<void> Load();

  store::Database* db_;
  Options options_;
  std::unordered_map<std::string, Live> live_;  // by subject
  int64_t data_version_ = -1;
  std::shared_ptr<const notify::Outbox> outbox_;
};

// A stable fingerprint of a subject: FNV-1a 64 in hex (as Prometheus fingerprints label sets).
std::string Fingerprint(std::string_view subject);

}  // namespace portwatch::agent
