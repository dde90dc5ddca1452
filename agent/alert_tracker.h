// AlertTracker: turns each interval's findings into alerts that open, repeat, resolve and reopen,
// so a condition that lasts is one alert, not one a second.
//
// Findings collapse on their subject (one alert per listener, connection or process, whatever
// rules fired about it; its severity is the highest). While the alert is active, a new socket
// behind the same subject bumps its count; when no finding has named the subject for
// `resolve_after` it resolves (a condition that comes back sooner, flapping, stays the same alert
// with its count bumped); if it comes back within `reopen_within` of resolving, the same alert
// reopens with its count bumped instead of a new alert starting.
//
// Detection never waits for the store: Update changes the alerts in memory first and returns
// every change, whether or not it could be written. The writes (alert rows, events and their
// outbox rows) queue in memory and are written in one transaction, oldest first; a failed
// transaction leaves the whole queue to the next Update, so each event is stored exactly once, in
// order. The queue is bounded: it holds at most kMaxQueuedEvents events; past that, openings are
// still queued (each is an alert in memory anyway), other events are dropped as events but their
// alert's row still reaches its latest state, and the count of dropped events is kept
// (dropped_events) and logged by the caller. Repeats without an event coalesce to one write per
// alert.
//
// Acknowledgements, silences and acceptances made by other processes (the CLI) are picked up by
// Refresh (not while writes are queued: the queue would be lost). Not thread-safe: the agent's
// loop owns it.
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
  store::Alert alert;    // as it is now (id 0: a new alert not stored yet)
  bool stored = false;   // written in this Update; otherwise queued for a later one
  int64_t event_id = 0;  // alert_events.id, once stored
  int deliveries = 0;    // notifications queued for it, once stored
};

struct AlertUpdate {
  std::vector<AlertChange> changes;  // this interval's, in order, stored or not
  size_t stored_late = 0;            // events of earlier intervals stored by this Update
  std::optional<Error> store_error;  // why the queue could not be written (it waits)
};

class AlertTracker {
 public:
  struct Options {
    std::chrono::milliseconds reopen_within{std::chrono::minutes(10)};
    // How long a condition must be gone before its alert resolves; 0: at the first interval
    // without it.
    std::chrono::milliseconds resolve_after{0};
  };
  static constexpr size_t kMaxQueuedEvents = 10'000;

  // Loads the alerts still active (and those recently resolved) from the database.
  static Result<AlertTracker> Create(store::Database& db, Options options);

  // Folds one interval's findings in and writes what is queued. Never fails: a failed write is
  // reported in the result and retried by the next Update.
  AlertUpdate Update(const collectors::Snapshot& snapshot,
                     const std::vector<rules::Finding>& findings, int64_t now);

  // When another connection changed the database since the last look, reloads the live alerts'
  // statuses and returns the acceptances; nullopt when nothing changed (or writes are queued).
  Result<std::optional<std::vector<store::Acceptance>>> Refresh();

  // Events written from now on are also queued for the outbox's targets, in the same
  // transaction; null: none are.
  void set_outbox(std::shared_ptr<const notify::Outbox> outbox) { outbox_ = std::move(outbox); }

  size_t active_count() const;
  // Events waiting to be written, and events dropped from a full queue since the start.
  size_t queued_events() const { return queued_events_; }
  bool queued() const { return !queue_.empty(); }
  int64_t dropped_events() const { return dropped_events_; }
  void set_options(Options options) { options_ = options; }

 private:
  struct Live {
    store::Alert alert;
    std::unordered_set<uint64_t> evidence;  // socket identities behind it last interval
    int64_t persisted_last_seen = 0;
    uint64_t key = 0;     // names the alert in the queue before it has an id
    bool absent = false;  // active, but no finding named it last interval
  };
  // One write waiting: the alert as it was then, and the event it records (none: its row only).
  struct Write {
    uint64_t key = 0;
    store::Alert alert;
    std::optional<store::AlertEventKind> event;
    bool write_status = false;
    int64_t at = 0;
    std::optional<size_t> change;  // its index in this Update's changes
  };
  AlertTracker(store::Database& db, Options options) : db_(&db), options_(options) {}
  Result<void> Load();
  void Queue(const Live& live, std::optional<store::AlertEventKind> event, int64_t now,
             std::vector<AlertChange>& changes);
  Result<void> Flush(int64_t now, AlertUpdate& update);

  store::Database* db_;
  Options options_;
  std::unordered_map<std::string, Live> live_;  // by subject
  uint64_t next_key_ = 1;
  std::vector<Write> queue_;
  std::unordered_map<uint64_t, size_t> row_only_;  // key -> its last queued write, if row only
  size_t queued_events_ = 0;
  int64_t dropped_events_ = 0;
  int64_t data_version_ = -1;
  std::shared_ptr<const notify::Outbox> outbox_;
};

// A stable fingerprint of a subject: FNV-1a 64 in hex (as Prometheus fingerprints label sets).
std::string Fingerprint(std::string_view subject);

}  // namespace portwatch::agent
