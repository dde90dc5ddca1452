// Running commands and holding sockets in child processes, for integration tests.
#pragma once

#include <sys/types.h>

#include <cstdint>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace portwatch::testing {

struct CommandResult {
  int exit_code = -1;  // -1 when the command did not exit normally
  std::string out;
  std::string err;
};

// Runs argv (no shell) to completion, capturing stdout and stderr.
CommandResult RunCommand(const std::vector<std::string>& argv);

// What a command did, for failure messages: the exit code, then stdout and stderr (the first
// 4000 characters of each).
std::string Describe(const CommandResult& result);

// A forked child that runs `body` and then waits until it is killed. The destructor kills and
// reaps it. `body` runs in the child only; it must not return control to the test framework.
class ChildProcess {
 public:
  explicit ChildProcess(const std::function<void()>& body);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Runs argv (no shell) in a child that keeps the `inherited` descriptors across the exec, so
  // the program it runs holds them. Returns once the exec has happened; throws when it failed.
  static std::unique_ptr<ChildProcess> Exec(const std::vector<std::string>& argv,
                                            const std::vector<int>& inherited);

  pid_t pid() const { return pid_; }

 private:
  ChildProcess() = default;
  pid_t pid_ = -1;
};

// Runs `program` (say, a copy of sleep) holding a TCP listener on 0.0.0.0:port that the test
// opened and handed over, so the listener's only owner is that program.
std::unique_ptr<ChildProcess> ListenerProcess(const std::string& program, uint16_t port);

}  // namespace portwatch::testing
