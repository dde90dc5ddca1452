#include "agent/alert_tracker.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>

#include "agent/rules/subject.h"
#include "api/socket_json.h"
#include "collectors/snapshot_diff.h"

namespace portwatch::agent {

namespace {

using rules::Finding;
using rules::Severity;
using rules::SubjectKind;
using store::Alert;
using store::AlertEventKind;
using store::AlertStatus;

// Every finding about one subject this interval.
struct Observation {
  std::vector<const Finding*> findings;
  Severity severity = Severity::kInfo;
  std::unordered_set<uint64_t> evidence;
  const Finding* lead = nullptr;  // the most severe: its evidence is shown
};

std::string ProcessJson(const collectors::Process& process) {
  return nlohmann::json{{"pid", process.pid},
                        {"ppid", process.ppid},
                        {"process", process.name},
                        {"exe", process.exe},
                        {"exe_deleted", process.exe_deleted},
                        {"cmdline", process.cmdline},
                        {"user", process.user},
                        {"uid", process.uid}}
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string EvidenceJson(const collectors::Snapshot& snapshot, const Finding& finding) {
  std::string out;
  if (finding.socket >= 0) {
    api::AppendSocketJson(out, snapshot, snapshot.sockets[static_cast<size_t>(finding.socket)]);
  } else if (finding.process >= 0) {
    out = ProcessJson(snapshot.processes[static_cast<size_t>(finding.process)]);
  } else {
    out = "{}";
  }
  return out;
}

std::string Who(const collectors::Process* owner) {
  if (owner == nullptr) return "an unknown process";
  return fmt::format("{} (pid {}, user {})", owner->name, owner->pid, owner->user);
}

// One line naming what the alert is about: program, pid, user, addresses and port.
std::string Title(const collectors::Snapshot& snapshot, const Finding& finding) {
  if (finding.socket < 0) {
    if (finding.process >= 0) {
      return Who(&snapshot.processes[static_cast<size_t>(finding.process)]);
    }
    return "this host";
  }
  const collectors::Socket& socket = snapshot.sockets[static_cast<size_t>(finding.socket)];
  const collectors::Process* owner = finding.process >= 0
                                         ? &snapshot.processes[static_cast<size_t>(finding.process)]
                                         : snapshot.PrimaryOwner(socket);
  const std::string_view protocol = collectors::ProtocolName(socket.protocol);
  if (finding.kind == SubjectKind::kProcess) return Who(owner);
  if (!socket.HasPorts()) return fmt::format("{} holds a {} socket", Who(owner), protocol);
  if (socket.direction == collectors::Direction::kListen) {
    return fmt::format("{} listens on {}/{}", Who(owner), socket.local.ToString(), protocol);
  }
  return fmt::format("{} {} {} -> {}/{}", Who(owner),
                     socket.direction == collectors::Direction::kInbound ? "accepted" : "connected",
                     socket.local.ToString(), socket.remote.ToString(), protocol);
}

const collectors::Process* OwnerOf(const collectors::Snapshot& snapshot, const Finding& finding) {
  if (finding.process >= 0) return &snapshot.processes[static_cast<size_t>(finding.process)];
  if (finding.socket >= 0) {
    return snapshot.PrimaryOwner(snapshot.sockets[static_cast<size_t>(finding.socket)]);
  }
  return nullptr;
}

// Each reason with the executable it is about, so that accepting the alert accepts that
// executable only (see store::AcceptAlert).
std::string ReasonsJson(const collectors::Snapshot& snapshot,
                        const std::vector<const Finding*>& findings) {
  nlohmann::json reasons = nlohmann::json::array();
  for (const Finding* finding : findings) {
    nlohmann::json reason = {{"rule", finding->rule},
                             {"severity", rules::SeverityName(finding->severity)},
                             {"mitre", finding->mitre},
                             {"reason", finding->reason}};
    if (const collectors::Process* owner = OwnerOf(snapshot, *finding)) {
      if (!owner->exe.empty()) reason["exe"] = owner->exe;
      if (owner->exe_inode != 0) {
        reason["exe_device"] = owner->exe_device;
        reason["exe_inode"] = owner->exe_inode;
        reason["exe_mtime_ns"] = owner->exe_mtime_ns;
      }
    }
    reasons.push_back(std::move(reason));
  }
  return reasons.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string Fingerprint(std::string_view subject) {
  uint64_t hash = 14695981039346656037ull;
  for (const char c : subject) {
    hash ^= static_cast<uint8_t>(c);
    hash *= 1099511628211ull;
  }
  return fmt::format("{:016x}", hash);
}

Result<AlertTracker> AlertTracker::Create(store::Database& db, Options options) {
  AlertTracker tracker(db, options);
  if (Result<void> loaded = tracker.Load(); !loaded) return loaded.error();
  return tracker;
}

Result<void> AlertTracker::Load() {
  // The version is taken first and kept only once everything is read: a change made meanwhile
  // is then seen by the next Refresh, and a failed read is retried by it.
  Result<int64_t> version = store::DataVersion(*db_);
  if (!version) return version.error();
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  Result<std::vector<Alert>> alerts = store::LiveAlerts(*db_, now - options_.reopen_within.count());
  if (!alerts) return alerts.error();
  std::unordered_map<std::string, Live> live;
  for (Alert& alert : *alerts) {
    if (alert.accepted) continue;
    // Evidence is not kept: after a restart the sockets still there count as seen, not new.
    const auto known = live_.find(alert.subject);
    Live entry{std::move(alert), {}, 0, 0, false};
    if (known != live_.end()) {
      entry.evidence = known->second.evidence;
      entry.absent = known->second.absent;
      entry.key = known->second.key;
    } else {
      entry.key = next_key_++;
    }
    entry.persisted_last_seen = entry.alert.last_seen;
    std::string subject = entry.alert.subject;
    live[std::move(subject)] = std::move(entry);
  }
  live_ = std::move(live);
  data_version_ = *version;
  return Ok();
}

size_t AlertTracker::active_count() const {
  return static_cast<size_t>(std::count_if(
      live_.begin(), live_.end(), [](const auto& entry) { return entry.second.alert.active(); }));
}

Result<std::optional<std::vector<store::Acceptance>>> AlertTracker::Refresh() {
  using Refreshed = std::optional<std::vector<store::Acceptance>>;
  // Reloading now would forget the changes still queued; the version is looked at again once
  // they are written.
  if (!queue_.empty()) return Refreshed();
  Result<int64_t> version = store::DataVersion(*db_);
  if (!version) return version.error();
  if (*version == data_version_) return Refreshed();
  Result<std::vector<store::Acceptance>> accepted = store::ListAcceptances(*db_);
  if (!accepted) return accepted.error();
  if (Result<void> loaded = Load(); !loaded) return loaded.error();
  return Refreshed(std::move(*accepted));
}

void AlertTracker::Queue(const Live& live, std::optional<AlertEventKind> event, int64_t now,
                         std::vector<AlertChange>& changes) {
  const bool write_status =
      event == AlertEventKind::kReopened || event == AlertEventKind::kResolved;
  if (event && *event != AlertEventKind::kOpened && queued_events_ >= kMaxQueuedEvents) {
    // The queue is full: the event is not stored, but it was still logged and published by the
    // caller, and the row below still takes the alert's new state.
    ++dropped_events_;
    changes.push_back({now, *event, live.alert, false, 0, 0});
    event.reset();
  }
  if (event) {
    row_only_.erase(live.key);
    ++queued_events_;
    changes.push_back({now, *event, live.alert, false, 0, 0});
    queue_.push_back({live.key, live.alert, event, write_status, now, changes.size() - 1});
    return;
  }
  // A row-only write replaces the alert's previous one when nothing was queued for it since.
  if (const auto last = row_only_.find(live.key); last != row_only_.end()) {
    Write& write = queue_[last->second];
    write.alert = live.alert;
    write.write_status = write.write_status || write_status;
    write.at = now;
    return;
  }
  row_only_[live.key] = queue_.size();
  queue_.push_back({live.key, live.alert, std::nullopt, write_status, now, std::nullopt});
}

Result<void> AlertTracker::Flush(int64_t now, AlertUpdate& update) {
  if (queue_.empty()) return Ok();
  struct Stored {
    int64_t event_id = 0;
    int deliveries = 0;
  };
  std::unordered_map<uint64_t, int64_t> ids;  // given to new alerts in this transaction
  std::vector<Stored> stored(queue_.size());
  Result<store::Transaction> transaction = store::Transaction::Begin(*db_);
  if (!transaction) return transaction.error();
  for (size_t i = 0; i < queue_.size(); ++i) {
    Write& write = queue_[i];
    Alert alert = write.alert;
    if (alert.id == 0) {
      if (const auto known = ids.find(write.key); known != ids.end()) alert.id = known->second;
    }
    if (alert.id == 0) {
      Result<int64_t> id = store::InsertAlert(*db_, alert);
      if (!id) return id.error();
      alert.id = *id;
      ids[write.key] = *id;
    } else if (Result<void> updated =
                   store::UpdateAlertObservation(*db_, alert, write.write_status);
               !updated) {
      return updated.error();
    }
    if (!write.event) continue;
    Result<int64_t> recorded =
        store::InsertAlertEvent(*db_, {0, alert.id, write.at, *write.event, ""});
    if (!recorded) return recorded.error();
    stored[i].event_id = *recorded;
    if (outbox_) {
      Result<int> queued = outbox_->Enqueue(*db_, *recorded, alert, *write.event, now);
      if (!queued) return queued.error();
      stored[i].deliveries = *queued;
    }
  }
  if (Result<void> committed = transaction->Commit(); !committed) return committed.error();

  // Written: the new alerts take their ids, this Update's changes their events.
  for (auto& [subject, live] : live_) {
    if (live.alert.id != 0) continue;
    if (const auto known = ids.find(live.key); known != ids.end()) live.alert.id = known->second;
  }
  for (size_t i = 0; i < queue_.size(); ++i) {
    const Write& write = queue_[i];
    if (!write.event) continue;
    if (!write.change) {
      ++update.stored_late;
      continue;
    }
    AlertChange& change = update.changes[*write.change];
    change.stored = true;
    change.event_id = stored[i].event_id;
    change.deliveries = stored[i].deliveries;
    if (change.alert.id == 0) change.alert.id = ids.at(write.key);
  }
  for (AlertChange& change : update.changes) {
    // Events dropped from a full queue still name their alert once it has a row.
    if (change.alert.id == 0) {
      const auto live = live_.find(change.alert.subject);
      if (live != live_.end()) change.alert.id = live->second.alert.id;
    }
  }
  queue_.clear();
  row_only_.clear();
  queued_events_ = 0;
  return Ok();
}

AlertUpdate AlertTracker::Update(const collectors::Snapshot& snapshot,
                                 const std::vector<Finding>& findings, int64_t now) {
  AlertUpdate update;
  std::vector<AlertChange>& changes = update.changes;
  // 1. Group the findings by subject; most severe first within each, one per rule.
  std::map<std::string_view, Observation> observed;
  for (const Finding& finding : findings) {
    Observation& observation = observed[finding.subject];
    const bool repeat_rule =
        std::any_of(observation.findings.begin(), observation.findings.end(),
                    [&](const Finding* other) { return other->rule == finding.rule; });
    if (!repeat_rule) observation.findings.push_back(&finding);
    if (finding.socket >= 0) {
      observation.evidence.insert(
          collectors::SocketIdentity(snapshot.sockets[static_cast<size_t>(finding.socket)]));
    }
    if (observation.lead == nullptr || finding.severity > observation.lead->severity) {
      observation.lead = &finding;
      observation.severity = finding.severity;
    }
  }
  for (auto& [subject, observation] : observed) {
    std::stable_sort(observation.findings.begin(), observation.findings.end(),
                     [](const Finding* a, const Finding* b) { return a->severity > b->severity; });
  }

  // 2. Change the alerts in memory, queueing their writes. Alerts resolved longer than
  //    reopen_within ago are forgotten first: they stay resolved.
  std::erase_if(live_, [&](const auto& entry) {
    const Alert& alert = entry.second.alert;
    return !alert.active() && alert.resolved_at &&
           *alert.resolved_at < now - options_.reopen_within.count();
  });
  for (const auto& [subject_view, observation] : observed) {
    const std::string subject(subject_view);
    const Finding& lead = *observation.lead;
    const std::string reasons = ReasonsJson(snapshot, observation.findings);
    const int severity = static_cast<int>(observation.severity);
    auto found = live_.find(subject);
    if (found == live_.end()) {
      Alert alert;
      alert.fingerprint = Fingerprint(subject);
      alert.subject = subject;
      alert.kind = static_cast<int>(lead.kind);
      alert.severity = severity;
      alert.status = AlertStatus::kOpen;
      alert.title = Title(snapshot, lead);
      alert.reasons = reasons;
      alert.count = 1;
      alert.first_seen = alert.last_seen = now;
      alert.first_evidence = alert.last_evidence = EvidenceJson(snapshot, lead);
      const Live& live = live_[subject] =
          Live{std::move(alert), observation.evidence, now, next_key_++, false};
      Queue(live, AlertEventKind::kOpened, now, changes);
      continue;
    }
    Live& live = found->second;
    Alert& alert = live.alert;
    const bool fresh_evidence =
        std::any_of(observation.evidence.begin(), observation.evidence.end(),
                    [&](uint64_t identity) { return !live.evidence.contains(identity); });
    std::optional<AlertEventKind> event;
    // Back after an absence too short to resolve it (flapping), or with a new socket: a repeat.
    const bool repeat = live.absent || (fresh_evidence && !live.evidence.empty());
    if (!alert.active()) {
      alert.status = AlertStatus::kOpen;
      alert.resolved_at.reset();
      ++alert.count;
      event = AlertEventKind::kReopened;
    } else if (repeat) {
      ++alert.count;
    }
    live.absent = false;
    const bool escalated = severity > alert.severity;
    if (escalated) {
      alert.severity = severity;
      if (!event) event = AlertEventKind::kEscalated;
    }
    const bool changed = event || reasons != alert.reasons || repeat;
    if (event || fresh_evidence) {
      alert.title = Title(snapshot, lead);
      alert.last_evidence = EvidenceJson(snapshot, lead);
    }
    alert.reasons = reasons;
    alert.last_seen = now;
    live.evidence = observation.evidence;
    // A lasting condition is written at most once a minute, to keep last_seen roughly current.
    if (changed || now - live.persisted_last_seen >= 60'000) {
      live.persisted_last_seen = now;
      Queue(live, event, now, changes);
    }
  }
  // 3. Resolve what no finding has named for resolve_after; until then it is only absent.
  for (auto& [subject, live] : live_) {
    if (observed.contains(subject) || !live.alert.active()) continue;
    live.absent = true;
    if (now - live.alert.last_seen < options_.resolve_after.count()) continue;
    live.alert.status = AlertStatus::kResolved;
    live.alert.resolved_at = now;
    live.absent = false;
    live.evidence.clear();
    Queue(live, AlertEventKind::kResolved, now, changes);
  }

  // 4. Write everything queued, this interval's and any earlier one's, in one transaction.
  if (Result<void> flushed = Flush(now, update); !flushed) {
    update.store_error = flushed.error();
    // What waits belongs to no later Update's changes: stored then, it counts as stored late.
    for (Write& write : queue_) write.change.reset();
  }
  return update;
}

}  // namespace portwatch::agent
