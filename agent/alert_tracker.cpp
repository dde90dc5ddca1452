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

std::string ReasonsJson(const std::vector<const Finding*>& findings) {
  nlohmann::json reasons = nlohmann::json::array();
  for (const Finding* finding : findings) {
    reasons.push_back({{"rule", finding->rule},
                       {"severity", rules::SeverityName(finding->severity)},
                       {"mitre", finding->mitre},
                       {"reason", finding->reason}});
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
    Live entry{std::move(alert), {}, 0};
    if (known != live_.end()) entry.evidence = known->second.evidence;
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

Result<std::optional<std::unordered_set<std::string>>> AlertTracker::Refresh() {
  Result<int64_t> version = store::DataVersion(*db_);
  if (!version) return version.error();
  if (*version == data_version_) return std::optional<std::unordered_set<std::string>>();
  Result<std::unordered_set<std::string>> accepted = store::AcceptedSubjects(*db_);
  if (!accepted) return accepted.error();
  if (Result<void> loaded = Load(); !loaded) return loaded.error();
  return std::optional<std::unordered_set<std::string>>(std::move(*accepted));
}

Result<std::vector<AlertChange>> AlertTracker::Update(const collectors::Snapshot& snapshot,
                                                      const std::vector<Finding>& findings,
                                                      int64_t now) {
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

  // 2. Work out the changes on a copy, so a failed write leaves the tracker as it was. Alerts
  //    resolved longer than reopen_within ago are forgotten first: they stay resolved.
  std::unordered_map<std::string, Live> next = live_;
  std::erase_if(next, [&](const auto& entry) {
    const Alert& alert = entry.second.alert;
    return !alert.active() && alert.resolved_at &&
           *alert.resolved_at < now - options_.reopen_within.count();
  });
  // Alerts to write, by subject, with the event each records (none: a count or last-seen update).
  std::vector<std::pair<std::string, std::optional<AlertEventKind>>> writes;
  for (const auto& [subject_view, observation] : observed) {
    const std::string subject(subject_view);
    const Finding& lead = *observation.lead;
    const std::string reasons = ReasonsJson(observation.findings);
    const int severity = static_cast<int>(observation.severity);
    auto found = next.find(subject);
    if (found == next.end()) {
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
      next[subject] = Live{std::move(alert), observation.evidence, now};
      writes.emplace_back(subject, AlertEventKind::kOpened);
      continue;
    }
    Live& live = found->second;
    Alert& alert = live.alert;
    const bool fresh_evidence =
        std::any_of(observation.evidence.begin(), observation.evidence.end(),
                    [&](uint64_t identity) { return !live.evidence.contains(identity); });
    std::optional<AlertEventKind> event;
    if (!alert.active()) {
      alert.status = AlertStatus::kOpen;
      alert.resolved_at.reset();
      ++alert.count;
      event = AlertEventKind::kReopened;
    } else if (fresh_evidence && !live.evidence.empty()) {
      ++alert.count;
    }
    const bool escalated = severity > alert.severity;
    if (escalated) {
      alert.severity = severity;
      if (!event) event = AlertEventKind::kEscalated;
    }
    const bool changed =
        event || reasons != alert.reasons || (fresh_evidence && !live.evidence.empty());
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
      writes.emplace_back(subject, event);
    }
  }
  // 3. Resolve what no finding names any more.
  for (auto& [subject, live] : next) {
    if (!observed.contains(subject) && live.alert.active()) {
      live.alert.status = AlertStatus::kResolved;
      live.alert.resolved_at = now;
      live.evidence.clear();
      writes.emplace_back(subject, AlertEventKind::kResolved);
    }
  }
  std::vector<AlertChange> changes;
  if (writes.empty()) {
    live_ = std::move(next);
    return changes;
  }

  // 4. Write it all in one transaction.
  Result<store::Transaction> transaction = store::Transaction::Begin(*db_);
  if (!transaction) return transaction.error();
  for (const auto& [subject, event] : writes) {
    Alert& alert = next.at(subject).alert;
    if (alert.id == 0) {
      Result<int64_t> id = store::InsertAlert(*db_, alert);
      if (!id) return id.error();
      alert.id = *id;
    } else if (Result<void> updated = store::UpdateAlertObservation(
                   *db_, alert,
                   event == AlertEventKind::kReopened || event == AlertEventKind::kResolved);
               !updated) {
      return updated.error();
    }
    if (!event) continue;
    Result<int64_t> recorded = store::InsertAlertEvent(*db_, {0, alert.id, now, *event, ""});
    if (!recorded) return recorded.error();
    int deliveries = 0;
    if (outbox_) {
      Result<int> queued = outbox_->Enqueue(*db_, *recorded, alert, *event, now);
      if (!queued) return queued.error();
      deliveries = *queued;
    }
    changes.push_back({now, *event, alert, *recorded, deliveries});
  }
  if (Result<void> committed = transaction->Commit(); !committed) return committed.error();
  live_ = std::move(next);
  return changes;
}

}  // namespace portwatch::agent
