#include "tests/bench/bench_support.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

namespace portwatch::bench {

std::istringstream StatFields(pid_t pid) {
  std::ifstream stat(fmt::format("/proc/{}/stat", pid));
  std::string text;
  if (!std::getline(stat, text) || text.rfind(')') == std::string::npos) return {};
  return std::istringstream(text.substr(text.rfind(')') + 2));
}

namespace {

std::string& Program() {
  static std::string name = "bench";
  return name;
}

std::string ReadFirstMatch(const std::string& path, std::string_view key) {
  std::ifstream file(path);
  std::string line;
  while (std::getline(file, line)) {
    if (line.starts_with(key)) {
      const auto colon = line.find(':');
      std::string value = colon == std::string::npos ? line : line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      return value;
    }
  }
  return "unknown";
}

std::string LoadAverage() { return FirstLineOf("cut -d' ' -f1-3 /proc/loadavg"); }

// Field 4 of /proc/PID/stat; 0 when the process is gone.
pid_t ParentOf(pid_t pid) {
  std::istringstream fields = StatFields(pid);
  std::string state;
  pid_t parent = 0;
  fields >> state >> parent;
  return parent;
}

// Whether `pid` is this process or one it started (conn_farm's workers are grandchildren).
bool IsOurs(pid_t pid) {
  for (int depth = 0; depth < 4 && pid > 1; ++depth) {
    if (pid == getpid()) return true;
    pid = ParentOf(pid);
  }
  return false;
}

// The processes that started this one: a shell, `timeout`, `time`, a CI script.
std::set<pid_t> Ancestors() {
  std::set<pid_t> ancestors;
  for (pid_t pid = getppid(); pid > 1 && ancestors.insert(pid).second;) pid = ParentOf(pid);
  return ancestors;
}

// The processes, other than ours and those that started us, whose command line contains one of
// `names`.
std::vector<std::string> OtherBenchmarks(const std::vector<std::string>& names) {
  std::vector<std::string> found;
  const std::set<pid_t> ancestors = Ancestors();
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string pid = entry.path().filename();
    if (pid.find_first_not_of("0123456789") != std::string::npos ||
        IsOurs(static_cast<pid_t>(std::stol(pid))) ||
        ancestors.contains(static_cast<pid_t>(std::stol(pid)))) {
      continue;
    }
    std::ifstream cmdline(entry.path() / "cmdline");
    std::string text((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
    std::replace(text.begin(), text.end(), '\0', ' ');
    if (std::any_of(names.begin(), names.end(), [&](const std::string& name) {
          return text.find(name) != std::string::npos;
        })) {
      found.push_back(fmt::format("{} ({})", pid, text.substr(0, 80)));
    }
  }
  return found;
}

// The file names in `git status --porcelain` output, as "`a`, `b`".
std::string PorcelainFiles(const std::string& status) {
  std::string files;
  for (size_t begin = 0; begin < status.size();) {
    size_t end = status.find('\n', begin);
    if (end == std::string::npos) end = status.size();
    if (end - begin > 3) {
      files += (files.empty() ? "`" : ", `") + status.substr(begin + 3, end - begin - 3) + "`";
    }
    begin = end + 1;
  }
  return files;
}

}  // namespace

// ---- progress and failure ---------------------------------------------------------------------

void SetProgramName(std::string_view name) { Program() = name; }

const std::string& ProgramName() { return Program(); }

void Die(const std::string& message) {
  std::fprintf(stderr, "%s: %s\n", ProgramName().c_str(), message.c_str());
  std::exit(1);
}

void Check(Result<void> result, std::string_view what) {
  if (!result) Die(fmt::format("{}: {}", what, result.error().message));
}

void LogLibrariesToStderr() {
  spdlog::set_default_logger(spdlog::stderr_color_mt("portwatch"));
  spdlog::set_level(spdlog::level::warn);
}

// ---- timing statistics ------------------------------------------------------------------------

double Millis(Clock::duration duration) {
  return std::chrono::duration<double, std::milli>(duration).count();
}

double Percentile(std::vector<double> values, double percent) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto rank =
      static_cast<size_t>(std::ceil(percent / 100.0 * static_cast<double>(values.size())));
  return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
}

double Max(const std::vector<double>& values) {
  return values.empty() ? 0 : *std::max_element(values.begin(), values.end());
}

std::string Verdict(double value, double limit) { return value <= limit ? "PASS" : "**FAIL**"; }

TimingSummary Summarize(const std::vector<double>& ms) {
  return {ms.size(), Percentile(ms, 50), Percentile(ms, 90), Percentile(ms, 99), Max(ms)};
}

// ---- processes and files ----------------------------------------------------------------------

std::string FirstLineOf(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  if (!pipe) return "";
  std::array<char, 512> line{};
  if (std::fgets(line.data(), static_cast<int>(line.size()), pipe.get()) == nullptr) return "";
  std::string text = line.data();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

std::string AllOutputOf(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  std::string text;
  if (!pipe) return text;
  std::array<char, 4096> chunk{};
  size_t got = 0;
  while ((got = std::fread(chunk.data(), 1, chunk.size(), pipe.get())) > 0) {
    text.append(chunk.data(), got);
  }
  return text;
}

void UniqueFd::Reset(int fd) {
  if (fd_ >= 0) close(fd_);
  fd_ = fd;
}

Result<std::unique_ptr<ConnFarm>> ConnFarm::Start(const std::string& path, int connections) {
  int to_farm[2];
  int from_farm[2];
  if (pipe2(to_farm, O_CLOEXEC) != 0 || pipe2(from_farm, O_CLOEXEC) != 0) {
    return Error{std::string("pipe2: ") + std::strerror(errno)};
  }
  const std::string count = std::to_string(connections);
  const pid_t pid = fork();
  if (pid < 0) return Error{std::string("fork: ") + std::strerror(errno)};
  if (pid == 0) {
    dup2(to_farm[0], STDIN_FILENO);
    dup2(from_farm[1], STDOUT_FILENO);
    execl(path.c_str(), path.c_str(), count.c_str(), static_cast<char*>(nullptr));
    std::fprintf(stderr, "%s: cannot run %s: %s\n", ProgramName().c_str(), path.c_str(),
                 std::strerror(errno));
    _exit(127);
  }
  close(to_farm[0]);
  close(from_farm[1]);
  auto farm = std::unique_ptr<ConnFarm>(new ConnFarm(pid, UniqueFd(to_farm[1])));
  UniqueFd output(from_farm[0]);
  std::string line;
  pollfd watched{.fd = output.get(), .events = POLLIN, .revents = 0};
  const auto deadline = Clock::now() + std::chrono::minutes(5);
  while (line.find('\n') == std::string::npos) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return Error{"conn_farm did not report ready within 5 minutes"};
    if (poll(&watched, 1, static_cast<int>(left.count())) < 0 && errno != EINTR) {
      return Error{std::string("poll: ") + std::strerror(errno)};
    }
    char buffer[64];
    const ssize_t got = read(output.get(), buffer, sizeof buffer);
    if (got == 0) return Error{"conn_farm exited before it was ready (its message is above)"};
    if (got > 0) line.append(buffer, static_cast<size_t>(got));
  }
  line.resize(line.find('\n'));
  if (line != "ready " + count) {
    return Error{"conn_farm said '" + line + "' instead of 'ready " + count + "'"};
  }
  return farm;
}

ConnFarm::~ConnFarm() {
  // EOF on stdin, or SIGTERM while it is still connecting: either way the farm resets its
  // connections, reaps its workers and exits.
  stdin_.Reset();
  kill(pid_, SIGTERM);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
}

std::unique_ptr<AgentProcess> AgentProcess::Start(const std::string& binary, const std::string& db,
                                                  const std::string& log,
                                                  const std::vector<std::string>& extra) {
  std::vector<std::string> args = {binary, "agent", "--db", db};
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) Die(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // The agent must not outlive the benchmark, however the benchmark ends.
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent) _exit(1);
    const int out = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (out < 0 || null < 0) _exit(127);
    dup2(null, STDIN_FILENO);
    dup2(out, STDOUT_FILENO);
    dup2(out, STDERR_FILENO);
    execv(binary.c_str(), argv.data());
    std::fprintf(stderr, "%s: cannot run %s: %s\n", ProgramName().c_str(), binary.c_str(),
                 std::strerror(errno));
    _exit(127);
  }
  return std::unique_ptr<AgentProcess>(new AgentProcess(pid));
}

bool AgentProcess::Running() {
  if (exited_) return false;
  if (waitpid(pid_, &status_, WNOHANG) == pid_) exited_ = true;
  return !exited_;
}

int AgentProcess::Stop() {
  if (!exited_) {
    kill(pid_, SIGTERM);
    while (waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
    }
    exited_ = true;
  }
  return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
}

WorkDirectory MakeWorkDirectory(const std::string& given) {
  if (!given.empty()) {
    std::filesystem::create_directories(given);
    return {given, false};
  }
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/" + ProgramName() + ".XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) Die(std::string("mkdtemp: ") + std::strerror(errno));
  return {pattern, true};
}

std::string NextToThisProgram(std::string_view name) {
  std::error_code error;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", error);
  return (self.parent_path() / name).string();
}

void PublishReport(const std::string& report, const std::string& path) {
  std::fputs(report.c_str(), stdout);
  if (path.empty()) return;
  std::ofstream file(path);
  file << report;
  if (!file) Die("cannot write " + path);
  Say("report written to {}", path);
}

// ---- the command line -------------------------------------------------------------------------

void ParseFlags(int argc, char** argv, std::string_view usage, std::initializer_list<Flag> flags) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const Flag* flag = std::find_if(flags.begin(), flags.end(),
                                    [&](const Flag& candidate) { return candidate.name == arg; });
    if (flag == flags.end()) {
      if (arg == "-h" || arg == "--help") {
        std::fwrite(usage.data(), 1, usage.size(), stdout);
        std::exit(0);
      }
      BadUsage("unexpected argument '" + std::string(arg) + "'", usage);
    }
    if (bool* const* on = std::get_if<bool*>(&flag->target)) {
      **on = true;
      continue;
    }
    if (i + 1 >= argc) BadUsage(std::string(arg) + " needs a value", usage);
    const std::string value = argv[++i];
    if (std::string* const* text = std::get_if<std::string*>(&flag->target)) {
      **text = value;
      continue;
    }
    char* end = nullptr;
    errno = 0;
    const long long number = std::strtoll(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || errno != 0 || number <= 0) {
      BadUsage(std::string(arg) + " must be a positive integer, got '" + value + "'", usage);
    }
    if (int* const* small = std::get_if<int*>(&flag->target)) {
      **small = static_cast<int>(number);
    } else {
      *std::get<uint64_t*>(flag->target) = static_cast<uint64_t>(number);
    }
  }
}

void BadUsage(const std::string& problem, std::string_view usage) {
  std::fprintf(stderr, "%s: %s\n%.*s", ProgramName().c_str(), problem.c_str(),
               static_cast<int>(usage.size()), usage.data());
  std::exit(2);
}

// ---- the conditions of a run ------------------------------------------------------------------

std::string HostText() {
  utsname host{};
  uname(&host);
  const std::string memory = ReadFirstMatch("/proc/meminfo", "MemTotal");
  return fmt::format("Linux {}, {} × {}, {:.0f} GiB RAM", host.release,
                     sysconf(_SC_NPROCESSORS_ONLN), ReadFirstMatch("/proc/cpuinfo", "model name"),
                     std::strtod(memory.c_str(), nullptr) / (1024 * 1024));
}

OtherProcessesCpu::OtherProcessesCpu() : start_(Read()) {}

double OtherProcessesCpu::Share() const {
  const Times now = Read();
  return std::max(0.0, (now.machine_busy - start_.machine_busy) - (now.own - start_.own)) /
         (now.machine_total - start_.machine_total);
}

OtherProcessesCpu::Times OtherProcessesCpu::Read() {
  Times times;
  std::ifstream stat("/proc/stat");
  std::string cpu;
  stat >> cpu;
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  for (int field = 0; field < 8; ++field) {
    double value = 0;
    stat >> value;
    times.machine_total += value / tick;
    if (field != 3 && field != 4) times.machine_busy += value / tick;  // idle, iowait
  }
  for (const int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
    rusage usage{};
    getrusage(who, &usage);
    for (const timeval& t : {usage.ru_utime, usage.ru_stime}) {
      times.own += static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    }
  }
  // Children still running (the agent, conn_farm, wrk) with the children they reaped: fields 14
  // to 17 of /proc/PID/stat, utime, stime, cutime, cstime.
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const auto pid = static_cast<pid_t>(std::stol(name));
    if (pid == getpid() || !IsOurs(pid)) continue;
    std::istringstream fields = StatFields(pid);
    std::string skip;
    for (int field = 3; field < 14; ++field) fields >> skip;
    for (int field = 14; field <= 17; ++field) {
      double ticks = 0;
      fields >> ticks;
      times.own += ticks / tick;
    }
  }
  return times;
}

RunConditions RunConditions::Begin(const std::string& source_dir, std::string_view paths,
                                   std::initializer_list<std::string_view> benchmark_names) {
  RunConditions run;
  run.started_ = Clock::now();
  run.benchmark_names_.assign(benchmark_names.begin(), benchmark_names.end());
  run.others_at_start_ = OtherBenchmarks(run.benchmark_names_);
  for (const std::string& other : run.others_at_start_) {
    Say("warning: another benchmark is running: {}", other);
  }
  run.load_at_start_ = LoadAverage();
  // The commit the run measured; the report is written minutes later.
  run.commit_ = FirstLineOf("git -C '" + source_dir + "' describe --always --dirty 2>/dev/null");
  run.uncommitted_ = PorcelainFiles(AllOutputOf(
      "git -C '" + source_dir + "' status --porcelain -- " + std::string(paths) + " 2>/dev/null"));
  run.others_cpu_ = OtherProcessesCpu();
  return run;
}

void RunConditions::End() {
  total_s_ = std::chrono::duration<double>(Clock::now() - started_).count();
  others_at_end_ = OtherBenchmarks(benchmark_names_);
  others_cpu_share_ = others_cpu_.Share();
  load_at_end_ = LoadAverage();
}

std::string RunConditions::LoadText() const {
  return fmt::format(
      "Load average {} at the start, {} at the end; other processes used {:.0f}% of the "
      "machine's CPU time during the run{}; whole run {:.0f} s",
      load_at_start_, load_at_end_, 100 * others_cpu_share_,
      others_cpu_share_ > 0.1 ? " (**a busy host: timings are inflated**)" : "", total_s_);
}

}  // namespace portwatch::bench
