// Recording: `portwatch record` (or `portwatch agent`) running in the background while the test
// opens and closes sockets, and the intervals it has committed to its database.
//
// The recorder is a child of the test process and dies with it, even if the test crashes. Not
// thread-safe: use a Recording from the test's own thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace portwatch::testing {

class Recording {
 public:
  // Starts `portwatch <command> args...` with stdin and stdout on /dev/null and stderr in a new
  // file in dir (put the database elsewhere when the test compares the database's directory).
  // An agent gets `--listen 127.0.0.1:0` unless args choose its API address. A `wrapper` (such
  // as setpriv with its flags) runs portwatch as its last argument: `wrapper... portwatch ...`.
  Recording(const TempDir& dir, const std::vector<std::string>& args,
            const std::string& command = "record", const std::vector<std::string>& wrapper = {});
  // Kills the recorder if it still runs.
  ~Recording();
  Recording(const Recording&) = delete;
  Recording& operator=(const Recording&) = delete;

  pid_t pid() const { return pid_; }
  bool Running();
  void Signal(int signal) const;

  // The wait status once it ends; kills it, and fails the test, if it runs past the timeout.
  int WaitStatus(std::chrono::milliseconds timeout);
  // The exit code once it ends; -1 when a signal ended it (as when it ran past the timeout).
  int Wait(std::chrono::milliseconds timeout);

  // What it has written to stderr so far.
  std::string Stderr() const;
  // Waits until its stderr holds `text`; false after the timeout.
  bool WaitForStderr(const std::string& text, std::chrono::milliseconds timeout) const;

 private:
  std::string err_path_;
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// The times of the samples (one per committed interval) in the history database at path, read
// read-only through the SQLite API, independently of portwatch; empty while the database or its
// schema does not exist yet.
std::vector<int64_t> SampleTimes(const std::string& path);

}  // namespace portwatch::testing
