#include "agent/event_log.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "agent/cli/socket_json.h"
#include "agent/rules/finding.h"
#include "agent/rules/rule.h"

namespace portwatch::agent {

namespace {

std::string IsoTime(int64_t ms) {
  const auto time = std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03d}Z",
                     fmt::gmtime(std::chrono::system_clock::to_time_t(time)), ms % 1000);
}

nlohmann::json ParsedOrNull(const std::string& json) {
  nlohmann::json parsed = nlohmann::json::parse(json, nullptr, false);
  return parsed.is_discarded() ? nlohmann::json() : parsed;
}

}  // namespace

std::string AlertJson(const store::Alert& alert) {
  nlohmann::json json = {
      {"id", alert.id},
      {"fingerprint", alert.fingerprint},
      {"subject", alert.subject},
      {"kind", rules::SubjectKindName(static_cast<rules::SubjectKind>(alert.kind))},
      {"severity", rules::SeverityName(static_cast<rules::Severity>(alert.severity))},
      {"status", store::AlertStatusName(alert.status)},
      {"title", alert.title},
      {"reasons", ParsedOrNull(alert.reasons)},
      {"count", alert.count},
      {"first_seen", IsoTime(alert.first_seen)},
      {"last_seen", IsoTime(alert.last_seen)},
      {"resolved_at",
       alert.resolved_at ? nlohmann::json(IsoTime(*alert.resolved_at)) : nlohmann::json()},
      {"silenced_until",
       alert.silenced_until ? nlohmann::json(IsoTime(*alert.silenced_until)) : nlohmann::json()},
      {"accepted", alert.accepted},
      {"first_evidence", ParsedOrNull(alert.first_evidence)},
      {"last_evidence", ParsedOrNull(alert.last_evidence)},
  };
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<std::unique_ptr<EventLog>> EventLog::Open(const std::string& path) {
  if (path == "-") return std::unique_ptr<EventLog>(new EventLog(path, stdout));
  std::FILE* file = std::fopen(path.c_str(), "a");
  if (file == nullptr) {
    return Error{fmt::format("cannot open the events log {}: {}", path, std::strerror(errno))};
  }
  return std::unique_ptr<EventLog>(new EventLog(path, file));
}

EventLog::~EventLog() {
  if (file_ != nullptr && file_ != stdout) std::fclose(file_);
}

void EventLog::ReopenIfRotated() {
  if (file_ == stdout) return;
  struct stat on_disk;
  struct stat open_file;
  const bool rotated = stat(path_.c_str(), &on_disk) != 0 ||
                       fstat(fileno(file_), &open_file) != 0 ||
                       on_disk.st_ino != open_file.st_ino || on_disk.st_dev != open_file.st_dev;
  if (!rotated) return;
  std::FILE* fresh = std::fopen(path_.c_str(), "a");
  if (fresh == nullptr) return;  // keep writing where we were; Emit reports a failure
  std::fclose(file_);
  file_ = fresh;
}

void EventLog::Emit(const std::string& line) {
  batch_ok_ = std::fwrite(line.data(), 1, line.size(), file_) == line.size() &&
              std::fputc('\n', file_) != EOF && batch_ok_;
}

void EventLog::Flush() {
  // Buffered writes fail here (a full disk) as often as in fwrite. Said once, not per interval.
  const bool ok = std::fflush(file_) == 0 && batch_ok_;
  if (!ok && !failing_) {
    spdlog::error("cannot write the events log {}: {}", path_, std::strerror(errno));
  } else if (ok && failing_) {
    spdlog::warn("writing the events log {} again", path_);
  }
  failing_ = !ok;
  batch_ok_ = true;
}

void EventLog::Write(const store::ListenerEvents& listeners) {
  if (listeners.events.empty()) return;
  ReopenIfRotated();
  const collectors::Snapshot& snapshot = listeners.sockets.snapshot;
  for (const store::ListenerEvent& event : listeners.events) {
    std::string line = fmt::format(R"({{"time":"{}","event":"{}","socket":)", IsoTime(event.at),
                                   event.appeared ? "listener_appeared" : "listener_disappeared");
    bool found = false;
    for (size_t i = 0; i < listeners.sockets.ids.size() && !found; ++i) {
      found = listeners.sockets.ids[i] == event.socket_id;
      if (found) AppendSocketJson(line, snapshot, snapshot.sockets[i]);
    }
    line += found ? "}" : "null}";
    Emit(line);
  }
  Flush();
}

void EventLog::Write(const std::vector<AlertChange>& alerts) {
  if (alerts.empty()) return;
  ReopenIfRotated();
  for (const AlertChange& change : alerts) {
    Emit(fmt::format(R"({{"time":"{}","event":"alert_{}","alert":{}}})", IsoTime(change.at),
                     store::AlertEventKindName(change.kind), AlertJson(change.alert)));
  }
  Flush();
}

}  // namespace portwatch::agent
