#include "tests/support/recording.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "tests/support/sqlite.h"
#include "tests/support/wait_for.h"

namespace portwatch::testing {

namespace {

int recordings_started = 0;  // numbers the stderr files

}  // namespace

Recording::Recording(const TempDir& dir, const std::vector<std::string>& args,
                     const std::string& command, const std::vector<std::string>& wrapper)
    : err_path_(dir.path() + "/" + command + std::to_string(recordings_started++) + ".err") {
  std::vector<std::string> argv = wrapper;
  argv.insert(argv.end(), {PORTWATCH_BINARY, command});
  argv.insert(argv.end(), args.begin(), args.end());
  // Agents under test serve their API on a free port: several run at once, and beside any
  // agent of the machine on the default one.
  if (command == "agent" && std::find(args.begin(), args.end(), "--listen") == args.end()) {
    argv.insert(argv.end(), {"--listen", "127.0.0.1:0"});
  }
  pid_ = fork();
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int err = open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    dup2(null, STDIN_FILENO);
    dup2(null, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    std::vector<char*> raw;
    for (std::string& arg : argv) raw.push_back(arg.data());
    raw.push_back(nullptr);
    execv(raw[0], raw.data());
    _exit(127);
  }
  EXPECT_GT(pid_, 0);
}

Recording::~Recording() {
  if (pid_ > 0 && !status_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

bool Recording::Running() {
  int status = 0;
  if (!status_ && waitpid(pid_, &status, WNOHANG) == pid_) status_ = status;
  return !status_;
}

void Recording::Signal(int signal) const { kill(pid_, signal); }

int Recording::WaitStatus(std::chrono::milliseconds timeout) {
  if (!WaitFor([this] { return !Running(); }, timeout)) {
    ADD_FAILURE() << "portwatch still runs after " << timeout.count() << " ms";
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    status_ = status;
  }
  return *status_;
}

int Recording::Wait(std::chrono::milliseconds timeout) {
  const int status = WaitStatus(timeout);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string Recording::Stderr() const {
  std::ifstream file(err_path_, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(file), {});
}

bool Recording::WaitForStderr(const std::string& text, std::chrono::milliseconds timeout) const {
  return WaitFor([&] { return Stderr().find(text) != std::string::npos; }, timeout);
}

std::vector<int64_t> SampleTimes(const std::string& path) {
  if (!std::filesystem::exists(path)) return {};
  Sqlite db(path, SQLITE_OPEN_READONLY);
  std::vector<int64_t> times;
  for (const std::string& at : db.Column("SELECT at FROM samples WHERE resolution = 0 ORDER BY at")
                                   .value_or(std::vector<std::string>())) {
    times.push_back(std::stoll(at));
  }
  return times;
}

}  // namespace portwatch::testing
