#include "agent/event_log.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "api/alert_json.h"
#include "api/socket_json.h"
#include "collectors/time_text.h"

namespace portwatch::agent {

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
    std::string line =
        fmt::format(R"({{"time":"{}","event":"{}","socket":)", collectors::FormatIsoTime(event.at),
                    event.appeared ? "listener_appeared" : "listener_disappeared");
    bool found = false;
    for (size_t i = 0; i < listeners.sockets.ids.size() && !found; ++i) {
      found = listeners.sockets.ids[i] == event.socket_id;
      if (found) api::AppendSocketJson(line, snapshot, snapshot.sockets[i]);
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
    Emit(fmt::format(R"({{"time":"{}","event":"alert_{}","alert":{}}})",
                     collectors::FormatIsoTime(change.at), store::AlertEventKindName(change.kind),
                     api::AlertJson(change.alert)));
  }
  Flush();
}

}  // namespace portwatch::agent
