// EventLog: listener and alert events as JSON lines, for log shippers (Vector, Fluent Bit,
// Filebeat) to carry off the host.
//
// One object per line, flushed after each interval's batch:
//   {"time":"2026-11-25T13:05:01.123Z","event":"listener_appeared","socket":{...}}
//   {"time":"...","event":"alert_opened","alert":{"id":7,"severity":"high",...}}
// The file is opened for appending and reopened when it was rotated away (renamed or deleted),
// so logrotate needs no copytruncate. "-" writes to standard output. Not thread-safe.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "agent/alert_tracker.h"
#include "collectors/result.h"
#include "store/queries.h"

namespace portwatch::agent {

class EventLog {
 public:
  static Result<std::unique_ptr<EventLog>> Open(const std::string& path);
  ~EventLog();

  void Write(const store::ListenerEvents& listeners);
  void Write(const std::vector<AlertChange>& alerts);

  const std::string& path() const { return path_; }

 private:
  EventLog(std::string path, std::FILE* file) : path_(std::move(path)), file_(file) {}
  void Emit(const std::string& line);
  void Flush();
  void ReopenIfRotated();

  std::string path_;
  std::FILE* file_;
  bool failing_ = false;
  bool batch_ok_ = true;  // every line since the last flush was written
};

}  // namespace portwatch::agent
