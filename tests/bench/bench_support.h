// bench_support: what the benchmark programs under tests/bench (store_bench, agent_bench) share —
// progress and fatal-error lines, timing statistics, running shell commands, conn_farm as a child
// process, the command line, and the conditions a run was measured under, for a report's header.
//
// For benchmark programs only: most failures here end the process (Die: status 1, BadUsage: status
// 2) instead of coming back as values, since a benchmark has nothing better to do with them; only
// ConnFarm::Start returns an Error, for store_bench reports a farm that would not start and goes
// on. Not thread-safe: call from the main thread, SetProgramName first of all.
#pragma once

#include <fmt/format.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "collectors/result.h"

namespace portwatch::bench {

using Clock = std::chrono::steady_clock;

// ---- progress and failure ---------------------------------------------------------------------

// The name that starts every line on stderr and names the temporary directory ("store_bench").
void SetProgramName(std::string_view name);
const std::string& ProgramName();

// Prints "NAME: message" on stderr and exits with status 1.
[[noreturn]] void Die(const std::string& message);

// Prints "NAME: message" on stderr: progress, kept apart from the report on stdout.
template <typename... Args>
void Say(fmt::format_string<Args...> format, Args&&... args) {
  fmt::print(stderr, "{}: {}\n", ProgramName(), fmt::format(format, std::forward<Args>(args)...));
}

// The value of `result`; Die with "what: the error's message" when there is none.
template <typename T>
T Check(Result<T> result, std::string_view what) {
  if (!result) Die(fmt::format("{}: {}", what, result.error().message));
  return std::move(result).value();
}
void Check(Result<void> result, std::string_view what);

// Sends the portwatch libraries' log lines (the collector's notes on missing kernel modules) to
// stderr, at the agent's default level, so stdout is only the report.
void LogLibrariesToStderr();

// ---- timing statistics ------------------------------------------------------------------------

double Millis(Clock::duration duration);

// Nearest-rank percentile of unsorted values; 0 for none.
double Percentile(std::vector<double> values, double percent);
// The largest value; 0 for none.
double Max(const std::vector<double>& values);

// "PASS" when `value` is within `limit`, else a bold "FAIL".
std::string Verdict(double value, double limit);

struct TimingSummary {
  size_t count = 0;
  double median = 0, p90 = 0, p99 = 0, max = 0;
};
TimingSummary Summarize(const std::vector<double>& ms);

// ---- processes and files ----------------------------------------------------------------------

// The first line a shell command prints, without its line end; empty when it prints nothing or
// cannot run.
std::string FirstLineOf(const std::string& command);
// Everything a shell command prints on stdout; empty when it cannot run.
std::string AllOutputOf(const std::string& command);

// An owned file descriptor; -1 holds none.
class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    Reset(std::exchange(other.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }
  int get() const { return fd_; }
  // Closes the descriptor held, if any, and holds `fd` instead.
  void Reset(int fd = -1);

 private:
  int fd_;
};

// conn_farm (conn_farm.cpp) as a child process, holding its loopback connections until this
// object is destroyed: that closes the farm's stdin and sends it SIGTERM (should it still be
// connecting), and reaps it once it has reset its connections and reaped its workers.
class ConnFarm {
 public:
  // Runs the conn_farm binary at `path` and waits up to 5 minutes until it reports "ready N";
  // otherwise an Error saying why not (the farm's own message, if any, is on stderr).
  static Result<std::unique_ptr<ConnFarm>> Start(const std::string& path, int connections);

  ~ConnFarm();
  ConnFarm(const ConnFarm&) = delete;
  ConnFarm& operator=(const ConnFarm&) = delete;

 private:
  ConnFarm(pid_t pid, UniqueFd to_stdin) : pid_(pid), stdin_(std::move(to_stdin)) {}
  pid_t pid_;
  UniqueFd stdin_;
};

// `portwatch agent --db DB [extra...]` as a child process, stdout and stderr in `log`; stopped
// with SIGTERM when Stop is called or the object is destroyed, and by the kernel should this
// process die first (PR_SET_PDEATHSIG).
class AgentProcess {
 public:
  static std::unique_ptr<AgentProcess> Start(const std::string& binary, const std::string& db,
                                             const std::string& log,
                                             const std::vector<std::string>& extra = {});
  ~AgentProcess() { Stop(); }
  AgentProcess(const AgentProcess&) = delete;
  AgentProcess& operator=(const AgentProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool Running();
  // Stops the agent (SIGTERM) and returns its exit code, or -1 when a signal ended it.
  int Stop();

 private:
  explicit AgentProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_;
  int status_ = 0;
  bool exited_ = false;
};

// Where a run writes its files: the directory given, created if need be, or else (`given` empty) a
// new one under $TMPDIR (or /tmp) named after the program, which is then `temporary`. Die when a
// new one cannot be made.
struct WorkDirectory {
  std::string path;
  bool temporary = false;
};
WorkDirectory MakeWorkDirectory(const std::string& given);

// The path of `name` in the directory this program's binary is in (where conn_farm is built).
std::string NextToThisProgram(std::string_view name);

// Prints the report on stdout and, when `path` is not empty, writes it to `path` too (Die when
// that fails).
void PublishReport(const std::string& report, const std::string& path);

// ---- the command line -------------------------------------------------------------------------

// An option and where its value goes: a string option takes any value, an integer one a positive
// integer, a bool one no value (it sets true).
struct Flag {
  std::string_view name;
  std::variant<std::string*, int*, uint64_t*, bool*> target;
};

// Reads argv[1..argc) into the flags' targets, leaving the others as they were. -h or --help
// prints `usage` on stdout and exits with status 0; an unknown argument, a missing value or a
// value that is not a positive integer where one is wanted is BadUsage.
void ParseFlags(int argc, char** argv, std::string_view usage, std::initializer_list<Flag> flags);

// Prints "NAME: problem" and `usage` on stderr and exits with status 2.
[[noreturn]] void BadUsage(const std::string& problem, std::string_view usage);

// ---- the conditions of a run ------------------------------------------------------------------

// "Linux RELEASE, N × CPU MODEL, M GiB RAM".
std::string HostText();

// /proc/PID/stat from its third field (state) on, after the command name, which may hold spaces;
// empty when the process is gone.
std::istringstream StatFields(pid_t pid);

// The CPU time other processes took from a moment on: what the whole machine spent busy
// (/proc/stat) less what this process and its children spent, reaped (getrusage) or still
// running (/proc/PID/stat).
class OtherProcessesCpu {
 public:
  // Starts counting now.
  OtherProcessesCpu();
  // The share (0..1) of the machine's CPU time since construction that was busy but not spent by
  // this process or its children.
  double Share() const;

 private:
  struct Times {
    double machine_busy = 0;
    double machine_total = 0;
    double own = 0;
  };
  static Times Read();
  Times start_;
};

// What a report's header says about the conditions a run was measured under: sampled when the
// run starts (Begin) and when its measurements are over (End).
class RunConditions {
 public:
  // Notes the processes running now whose command line contains one of `benchmark_names` (other
  // benchmarks, which would skew every figure; this process and its descendants do not count),
  // saying each on stderr; the load average; the commit checked out at `source_dir` and its
  // uncommitted files under `paths` (space-separated, as git takes them); and starts counting the
  // CPU time of other processes.
  static RunConditions Begin(const std::string& source_dir, std::string_view paths,
                             std::initializer_list<std::string_view> benchmark_names);

  // Notes the other benchmarks, the CPU time other processes took and the load average again.
  void End();

  // `git describe --always --dirty` of the checkout; "unknown" outside one.
  std::string commit() const { return commit_.empty() ? "unknown" : commit_; }
  // The uncommitted files under the paths given, as "`a`, `b`"; empty when there are none.
  const std::string& uncommitted() const { return uncommitted_; }
  // The other benchmarks seen at the start, else those seen at the end: "PID (command line)".
  const std::vector<std::string>& other_benchmarks() const {
    return others_at_start_.empty() ? others_at_end_ : others_at_start_;
  }
  // "Load average … at the start, … at the end; other processes used N% of the machine's CPU time
  // during the run[ (**a busy host: …**)]; whole run N s". Call after End.
  std::string LoadText() const;

 private:
  RunConditions() = default;

  std::vector<std::string> benchmark_names_;
  Clock::time_point started_;
  std::vector<std::string> others_at_start_, others_at_end_;
  std::string load_at_start_, load_at_end_;
  std::string commit_;
  std::string uncommitted_;
  OtherProcessesCpu others_cpu_;
  double others_cpu_share_ = 0;
  double total_s_ = 0;
};

}  // namespace portwatch::bench
