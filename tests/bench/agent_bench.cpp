// agent_bench: measures the agent against the targets — what the rules cost next to the
// snapshot they run on (10k and 50k sockets), the agent's CPU and memory at 10k sockets and a 1 s
// interval (next to an operator looping `ss -tanp`), and how soon a new listener becomes an alert.
//
// Usage: agent_bench [--portwatch PATH] [--farm PATH] [--rules FILE|none] [--dir DIR] [--runs N]
//                    [--warmup S] [--seconds S] [--trials N] [--seed S] [--out FILE] [--keep]
//
// Prints a markdown report on stdout (progress goes to stderr) and writes it to --out if given.
// What runs and why is in tests/bench/README.md ("Agent benchmark"). Run it as root on a quiet
// host: the collector needs root to see every process's fds, and every figure shares the machine
// with whatever else runs. Exit status: 0 when the run completed (whatever the verdicts), 1 on
// failure, 2 on bad usage.
#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "agent/rules/baseline.h"
#include "agent/rules/detectors/detectors.h"
#include "agent/rules/engine.h"
#include "agent/rules/rules_loader.h"
#include "collectors/collector.h"
#include "collectors/derive.h"
#include "collectors/ports.h"
#include "collectors/snapshot.h"
#include "store/history_writer.h"
#include "tests/bench/bench_support.h"

namespace {

using namespace portwatch;
using namespace portwatch::bench;
using collectors::Address;
using collectors::Direction;
using collectors::Family;
using collectors::Snapshot;
using collectors::Socket;
namespace rules = agent::rules;

// The targets. MB is 10^6 bytes, the stricter reading.
constexpr double kRulesShareTarget = 0.10;  // of the snapshot's time, at 50k sockets
constexpr double kCpuTargetPercent = 3;     // of one core, at 10k sockets and a 1 s interval
constexpr double kRssTargetBytes = 40e6;
constexpr double kIntervalMs = 1000;  // the agent's default interval, which it runs at here
constexpr double kLatencyTargetMs = kIntervalMs + 100;

// Connections conn_farm holds: 2 sockets each (both ends are on this host).
constexpr int kSmallConnections = 5000;   // 10k sockets
constexpr int kLargeConnections = 25000;  // 50k sockets

constexpr uint16_t kBackdoorPort = 31337;  // on the backdoor_port detector's built-in list
constexpr uint16_t kRandomPortFirst = 40000;
constexpr uint16_t kRandomPortLast = 45000;
// How long a trial waits for its alert to open, or to resolve once the listener is closed.
constexpr auto kTrialTimeout = std::chrono::seconds(5);
constexpr auto kPollEvery = std::chrono::milliseconds(10);

// ---- small utilities ------------------------------------------------------------------------

// Unix time in milliseconds, with the sub-millisecond part, comparable with the database's times.
double WallMillis() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// CPU time (user + system) this process has used so far, all threads (the collector scans the
// fds on a thread of its own).
double ProcessCpuMillis() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto ms = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_usec) / 1e3;
  };
  return ms(usage.ru_utime) + ms(usage.ru_stime);
}

// ---- conn_farm ------------------------------------------------------------------------------

// conn_farm holding `connections` connections; Die when it cannot.
std::unique_ptr<ConnFarm> StartFarm(const std::string& path, int connections) {
  Say("starting conn_farm {} ({} sockets)", connections, 2 * connections);
  return Check(ConnFarm::Start(path, connections), "conn_farm " + std::to_string(connections));
}

// ---- 1. the rules next to the snapshot ------------------------------------------------------

void DisableEveryDetector(rules::DetectorsConfig& config) {
  for (rules::DetectorSettings* settings :
       {&config.unexpected_listener, &config.dynamic_range_listener, &config.service_owner,
        &config.sensitive_exposed, &config.backdoor_port, &config.suspicious_exe,
        &config.raw_socket, &config.fan_out, &config.syn_flood, &config.privileged_port,
        &config.new_outbound}) {
    settings->enabled = false;
  }
}

// One part of an evaluation timed on its own.
struct Part {
  std::string name;
  std::vector<double> ms;
  size_t findings = 0;  // in the last timed run
};

// The detectors of a rule set, each run on its own, and the rules files' rules run with no
// detector, to see where an evaluation's time goes. What is left of a whole Evaluate is the
// engine's own work: exceptions, accepted subjects, moving the findings.
class Breakdown {
 public:
  Breakdown(const rules::RuleSet& rule_set, const rules::Baseline& baseline)
      : detectors_(rules::MakeDetectors(rule_set.detectors)), baseline_(baseline) {
    for (const auto& detector : detectors_)
      parts_.push_back({std::string(detector->name()), {}, 0});
    if (!rule_set.rules.empty()) {
      rules::RuleSet only_rules = rule_set;
      DisableEveryDetector(only_rules.detectors);
      rules_only_ = std::make_unique<rules::Engine>(only_rules);
      rules_only_->SetBaseline(baseline);
      if (rules_only_->detector_count() != 0) {
        Die("DisableEveryDetector misses a detector: add it there");
      }
      parts_.push_back({fmt::format("rules files' rules ({})", rules_only_->rule_count()), {}, 0});
    }
  }

  // Runs every part over `snapshot`; `record` keeps the times.
  void Run(const Snapshot& snapshot, int64_t now, bool record) {
    const rules::DetectionInput input{snapshot, now, &baseline_, previous_host_};
    std::vector<rules::Finding> found;
    for (size_t i = 0; i < detectors_.size(); ++i) {
      found.clear();
      const auto begun = Clock::now();
      detectors_[i]->Inspect(input, found);
      const double ms = Millis(Clock::now() - begun);
      if (record) {
        parts_[i].ms.push_back(ms);
        parts_[i].findings = found.size();
      }
    }
    previous_host_ = snapshot.host;
    if (rules_only_) {
      const auto begun = Clock::now();
      const size_t count = rules_only_->Evaluate(snapshot, now).size();
      const double ms = Millis(Clock::now() - begun);
      if (record) {
        parts_.back().ms.push_back(ms);
        parts_.back().findings = count;
      }
    }
  }

  const std::vector<Part>& parts() const { return parts_; }

 private:
  std::vector<std::unique_ptr<rules::Detector>> detectors_;
  std::unique_ptr<rules::Engine> rules_only_;
  rules::Baseline baseline_;
  std::optional<collectors::HostNetwork> previous_host_;
  std::vector<Part> parts_;
};

// One rule set's engine over a series of snapshots, as the agent runs it.
struct EngineSeries {
  std::string label;
  std::unique_ptr<rules::Engine> engine;
  std::unique_ptr<Breakdown> breakdown;
  double first_ms = 0;  // the first evaluation: the detectors' state is still empty
  size_t first_findings = 0;
  std::vector<double> ms;
  std::vector<double> cpu_ms;
  size_t findings = 0;  // in the last timed run

  EngineSeries(std::string name, const rules::RuleSet& rule_set, const rules::Baseline& baseline)
      : label(std::move(name)),
        engine(std::make_unique<rules::Engine>(rule_set)),
        breakdown(std::make_unique<Breakdown>(rule_set, baseline)) {
    engine->SetBaseline(baseline);
  }

  void First(const Snapshot& snapshot, int64_t now) {
    const auto begun = Clock::now();
    first_findings = engine->Evaluate(snapshot, now).size();
    first_ms = Millis(Clock::now() - begun);
    breakdown->Run(snapshot, now, false);
  }

  void Timed(const Snapshot& snapshot, int64_t now) {
    const double cpu = ProcessCpuMillis();
    const auto begun = Clock::now();
    findings = engine->Evaluate(snapshot, now).size();
    ms.push_back(Millis(Clock::now() - begun));
    cpu_ms.push_back(ProcessCpuMillis() - cpu);
  }
};

struct SocketMix {
  size_t listeners = 0, inbound = 0, outbound = 0, local = 0, other = 0;
};
SocketMix MixOf(const Snapshot& snapshot) {
  SocketMix mix;
  for (const Socket& socket : snapshot.sockets) {
    switch (socket.direction) {
      case Direction::kListen:
        ++mix.listeners;
        break;
      case Direction::kInbound:
        ++mix.inbound;
        break;
      case Direction::kOutbound:
        ++mix.outbound;
        break;
      case Direction::kLocal:
        ++mix.local;
        break;
      default:
        ++mix.other;
    }
  }
  return mix;
}

// The same snapshot as if every loopback connection went off the host: each end gets a private
// local address and a public peer on port 443 (20k distinct hosts), so every farm socket is an
// outbound connection, which the fan-out and new-outbound detectors look at and loopback ones
// they skip.
Snapshot OffHost(Snapshot snapshot) {
  uint32_t next = 0;
  for (Socket& socket : snapshot.sockets) {
    if (socket.family != Family::kIpv4 || socket.remote.port == 0 ||
        !socket.remote.address.IsLoopback()) {
      continue;
    }
    const uint32_t host = next++ % 20000;
    socket.local.address = Address::V4(10, 0, 0, 5);
    socket.remote.address = Address::V4(45, static_cast<uint8_t>(10 + host / 250),
                                        static_cast<uint8_t>(host % 250 + 1), 7);
    socket.remote.port = 443;
  }
  collectors::DeriveFields(snapshot);
  return snapshot;
}

struct RulesResult {
  int connections = 0;
  size_t sockets = 0;
  size_t processes = 0;
  SocketMix mix;
  size_t baseline_entries = 0;
  std::vector<double> collect_ms;
  std::vector<double> collect_cpu_ms;
  std::vector<EngineSeries> series;  // on the real snapshots
  SocketMix off_host_mix;
  std::vector<EngineSeries> off_host;  // on the real snapshot made off-host (informational)
};

// The collector and the engines on the same snapshots while conn_farm holds `connections`.
RulesResult RunRules(int connections, int runs,
                     const std::vector<std::pair<std::string, const rules::RuleSet*>>& rule_sets) {
  RulesResult result;
  result.connections = connections;
  std::unique_ptr<collectors::Collector> collector = collectors::MakeCollector({});
  // The first pass fills the collector's process cache and the kernel's /proc caches, as the
  // agent's first interval does; the baseline is learned from it, as the agent learns its own.
  Snapshot snapshot = Check(collector->Collect(), "collect");
  rules::Baseline baseline;
  baseline.Learn(snapshot);
  result.baseline_entries = baseline.entries().size();
  const auto now_of = [](const Snapshot& taken) { return store::ToMillis(taken.taken_at); };
  for (const auto& [label, rule_set] : rule_sets) {
    result.series.emplace_back(label, *rule_set, baseline);
    result.series.back().First(snapshot, now_of(snapshot));
  }
  for (int run = 0; run < runs; ++run) {
    const double cpu = ProcessCpuMillis();
    const auto begun = Clock::now();
    snapshot = Check(collector->Collect(), "collect");
    result.collect_ms.push_back(Millis(Clock::now() - begun));
    result.collect_cpu_ms.push_back(ProcessCpuMillis() - cpu);
    // Rotating the order spreads the cache effects of running first after the collector.
    for (size_t k = 0; k < result.series.size(); ++k) {
      result.series[(k + static_cast<size_t>(run)) % result.series.size()].Timed(snapshot,
                                                                                 now_of(snapshot));
    }
    for (EngineSeries& series : result.series) {
      series.breakdown->Run(snapshot, now_of(snapshot), true);
    }
  }
  result.sockets = snapshot.sockets.size();
  result.processes = snapshot.processes.size();
  result.mix = MixOf(snapshot);

  // Informational: the last snapshot with every farm connection going off the host, evaluated
  // `runs` times at the real clock, as if nothing changed between intervals.
  const Snapshot off_host = OffHost(snapshot);
  result.off_host_mix = MixOf(off_host);
  for (const auto& [label, rule_set] : rule_sets) {
    result.off_host.emplace_back(label, *rule_set, baseline);
    result.off_host.back().First(off_host, store::ToMillis(std::chrono::system_clock::now()));
  }
  for (int run = 0; run < runs; ++run) {
    const int64_t now = store::ToMillis(std::chrono::system_clock::now());
    for (size_t k = 0; k < result.off_host.size(); ++k) {
      result.off_host[(k + static_cast<size_t>(run)) % result.off_host.size()].Timed(off_host, now);
    }
    for (EngineSeries& series : result.off_host) series.breakdown->Run(off_host, now, true);
  }
  Say("{} sockets: Collect() {:.1f} ms median, Evaluate {:.2f} ms median", result.sockets,
      Percentile(result.collect_ms, 50), Percentile(result.series.front().ms, 50));
  return result;
}

// ---- 2. the agent at 10k sockets ------------------------------------------------------------

struct ProcessSample {
  double cpu_s = 0;     // utime + stime
  double system_s = 0;  // stime: in the kernel on the process's behalf
  int64_t rss_kib = 0;
  int64_t hwm_kib = 0;  // peak RSS since the process started
};

std::optional<ProcessSample> SampleProcess(pid_t pid) {
  // From field 3 (state) on: utime is field 14 and stime 15.
  std::istringstream fields = StatFields(pid);
  if (fields.str().empty()) return std::nullopt;
  std::string field;
  double user_ticks = 0;
  double system_ticks = 0;
  for (int index = 3; index <= 15 && fields >> field; ++index) {
    if (index == 14) user_ticks = std::strtod(field.c_str(), nullptr);
    if (index == 15) system_ticks = std::strtod(field.c_str(), nullptr);
  }
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  ProcessSample sample;
  sample.cpu_s = (user_ticks + system_ticks) / tick;
  sample.system_s = system_ticks / tick;
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmRSS:")) sample.rss_kib = std::strtoll(line.c_str() + 6, nullptr, 10);
    if (line.starts_with("VmHWM:")) sample.hwm_kib = std::strtoll(line.c_str() + 6, nullptr, 10);
  }
  return sample;
}

// A read-only SQLite connection to the agent's database, independent of portwatch's store code.
class ReadOnlyDb {
 public:
  explicit ReadOnlyDb(const std::string& path) {
    sqlite3* raw = nullptr;
    const int opened =
        sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
    db_.reset(raw);
    if (opened != SQLITE_OK) Die(fmt::format("cannot open {}: {}", path, Message()));
    sqlite3_busy_timeout(raw, 100);
  }

  class Statement {
   public:
    Statement(ReadOnlyDb& db, const char* sql) : db_(&db) {
      sqlite3_stmt* raw = nullptr;
      if (sqlite3_prepare_v2(db.db_.get(), sql, -1, &raw, nullptr) != SQLITE_OK) {
        Die(fmt::format("cannot prepare '{}': {}", sql, db.Message()));
      }
      statement_.reset(raw);
    }
    Statement& Bind(int index, int64_t value) {
      sqlite3_bind_int64(statement_.get(), index, value);
      return *this;
    }
    Statement& Bind(int index, const std::string& text) {
      sqlite3_bind_text(statement_.get(), index, text.c_str(), static_cast<int>(text.size()),
                        SQLITE_TRANSIENT);
      return *this;
    }
    // Runs the statement from the start; true when it returned a row. A busy database (the agent
    // in the middle of a checkpoint) reads as "no row yet".
    bool Step() {
      sqlite3_reset(statement_.get());
      const int stepped = sqlite3_step(statement_.get());
      if (stepped == SQLITE_ROW) return true;
      if (stepped != SQLITE_DONE && stepped != SQLITE_BUSY && stepped != SQLITE_LOCKED) {
        Die(fmt::format("reading the agent's database: {}", db_->Message()));
      }
      return false;
    }
    int64_t Int(int column) const { return sqlite3_column_int64(statement_.get(), column); }
    std::string Text(int column) const {
      const unsigned char* text = sqlite3_column_text(statement_.get(), column);
      return text ? reinterpret_cast<const char*>(text) : "";
    }
    // Ends the read transaction, so the agent's checkpoints are not held back.
    void Done() { sqlite3_reset(statement_.get()); }

   private:
    struct Finalizer {
      void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
    };
    ReadOnlyDb* db_;
    std::unique_ptr<sqlite3_stmt, Finalizer> statement_;
  };

 private:
  std::string Message() const { return db_ ? sqlite3_errmsg(db_.get()) : "out of memory"; }
  struct Closer {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  std::unique_ptr<sqlite3, Closer> db_;
};

struct AgentResult {
  double warmup_s = 0;
  double measured_s = 0;
  double cpu_s = 0;
  double system_s = 0;
  std::vector<double> cpu_percent_per_second;
  int64_t rss_first_kib = 0, rss_last_kib = 0, rss_max_kib = 0, hwm_kib = 0;
  int64_t intervals = 0;    // interval rows the agent recorded during the measurement
  size_t sockets = 0;       // in the agent's last sample row
  double others_share = 0;  // of the machine's CPU, by processes other than the agent and us
  double CpuPercent() const { return measured_s > 0 ? 100 * cpu_s / measured_s : 0; }
};

// Waits until the agent has learned its baseline (its first snapshot) and `warmup` has passed
// since it started, then samples it once a second for `seconds`.
AgentResult MeasureAgent(AgentProcess& agent, const std::string& dir, const std::string& log,
                         Clock::time_point started, int warmup, int seconds) {
  AgentResult result;
  const std::string baseline = dir + "/baseline.yaml";
  while (!std::filesystem::exists(baseline)) {
    if (!agent.Running()) Die("the agent exited at start; its log:\n" + AllOutputOf("cat " + log));
    if (Clock::now() - started > std::chrono::seconds(60)) {
      Die("the agent learned no baseline within 60 s; its log:\n" + AllOutputOf("cat " + log));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::this_thread::sleep_until(started + std::chrono::seconds(warmup));
  result.warmup_s = std::chrono::duration<double>(Clock::now() - started).count();
  Say("agent: measuring CPU and RSS for {} s", seconds);

  const std::optional<ProcessSample> first = SampleProcess(agent.pid());
  if (!first) Die("cannot read the agent's /proc entries");
  const OtherProcessesCpu others_cpu;
  const double wall_first_ms = WallMillis();
  const auto begun = Clock::now();
  ProcessSample previous = *first;
  auto previous_at = begun;
  result.rss_first_kib = first->rss_kib;
  result.rss_max_kib = first->rss_kib;
  for (int second = 1; second <= seconds; ++second) {
    std::this_thread::sleep_until(begun + std::chrono::seconds(second));
    const std::optional<ProcessSample> sample = SampleProcess(agent.pid());
    const auto at = Clock::now();
    if (!sample || !agent.Running()) {
      Die("the agent exited during the measurement; its log:\n" + AllOutputOf("cat " + log));
    }
    result.cpu_percent_per_second.push_back(
        100 * (sample->cpu_s - previous.cpu_s) /
        std::chrono::duration<double>(at - previous_at).count());
    result.rss_max_kib = std::max(result.rss_max_kib, sample->rss_kib);
    result.rss_last_kib = sample->rss_kib;
    result.hwm_kib = sample->hwm_kib;
    previous = *sample;
    previous_at = at;
  }
  result.measured_s = std::chrono::duration<double>(previous_at - begun).count();
  result.cpu_s = previous.cpu_s - first->cpu_s;
  result.system_s = previous.system_s - first->system_s;
  result.others_share = others_cpu.Share();

  ReadOnlyDb db(dir + "/h.db");
  ReadOnlyDb::Statement count(db,
                              "SELECT count(*), max(sockets) FROM samples WHERE resolution = 0 "
                              "AND at BETWEEN ?1 AND ?2");
  count.Bind(1, static_cast<int64_t>(wall_first_ms))
      .Bind(2, static_cast<int64_t>(wall_first_ms + 1000 * result.measured_s));
  if (count.Step()) {
    result.intervals = count.Int(0);
    result.sockets = static_cast<size_t>(count.Int(1));
  }
  count.Done();
  Say("agent: {:.2f}% of one core, VmHWM {} KiB, {} intervals", result.CpuPercent(), result.hwm_kib,
      result.intervals);
  return result;
}

struct LoopResult {
  std::string failure;
  double wall_s = 0;
  double cpu_s = 0;
  int64_t peak_kib = 0;
  std::vector<double> run_ms;
  double CpuPercent() const { return wall_s > 0 ? 100 * cpu_s / wall_s : 0; }
};

// Runs `ss -tanp` once a second for `seconds` (back to back when a run takes longer), output to
// /dev/null, and adds up the CPU time its runs used.
LoopResult LoopSs(int seconds) {
  LoopResult result;
  Say("ss -tanp once a second for {} s", seconds);
  const auto begun = Clock::now();
  const auto end = begun + std::chrono::seconds(seconds);
  for (auto tick = begun; tick < end; tick += std::chrono::seconds(1)) {
    std::this_thread::sleep_until(tick);
    const auto started = Clock::now();
    const pid_t pid = fork();
    if (pid < 0) Die(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
      const int null = open("/dev/null", O_RDWR | O_CLOEXEC);
      dup2(null, STDIN_FILENO);
      dup2(null, STDOUT_FILENO);
      dup2(null, STDERR_FILENO);
      execlp("ss", "ss", "-tanp", static_cast<char*>(nullptr));
      _exit(127);
    }
    int status = 0;
    rusage usage{};
    while (wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
    }
    result.run_ms.push_back(Millis(Clock::now() - started));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      result.failure = fmt::format("ss -tanp failed (wait status {})", status);
      return result;
    }
    for (const timeval& t : {usage.ru_utime, usage.ru_stime}) {
      result.cpu_s += static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    }
    result.peak_kib = std::max<int64_t>(result.peak_kib, usage.ru_maxrss);
    if (Clock::now() > tick + std::chrono::seconds(1))
      tick = Clock::now() - std::chrono::seconds(1);
  }
  // The last run may end early in its second; the loop still stands for the whole period.
  std::this_thread::sleep_until(end);
  result.wall_s = std::chrono::duration<double>(Clock::now() - begun).count();
  Say("ss -tanp: {:.1f}% of one core over {} runs", result.CpuPercent(), result.run_ms.size());
  return result;
}

// ---- 3. detection latency -------------------------------------------------------------------

// A TCP listener on 0.0.0.0:port, or -1 when the port is taken.
UniqueFd OpenListener(uint16_t port) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP));
  if (fd.get() < 0) Die(std::string("socket: ") + std::strerror(errno));
  const int on = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_ANY);
  address.sin_port = htons(port);
  if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
      listen(fd.get(), 16) != 0) {
    return UniqueFd();
  }
  return fd;
}

struct Trial {
  uint16_t port = 0;
  double delay_ms = 0;      // after the previous trial's alert resolved
  double latency_ms = -1;   // open -> alert visible in the database; -1: not within the timeout
  double wait_ms = 0;       // open -> the start of the snapshot that saw it (its last_seen)
  double pipeline_ms = 0;   // that snapshot's start -> alert visible: collect, write, rules, commit
  bool reopened = false;    // the subject had an alert before: it reopened
  std::string rules;        // the detectors that fired
  bool cli_listed = false;  // `portwatch alerts --json --open` listed it
  double resolve_ms = -1;   // close -> alert resolved
};

std::vector<Trial> MeasureLatency(AgentProcess& agent, const std::string& portwatch,
                                  const std::string& dir, const std::string& log, int trials,
                                  uint64_t seed) {
  std::mt19937_64 random(seed);
  std::uniform_int_distribution<int> delay_ms(250, 1250);  // uniform over an interval's phase
  std::uniform_int_distribution<int> random_port(kRandomPortFirst, kRandomPortLast);
  const std::string db_path = dir + "/h.db";
  ReadOnlyDb db(db_path);
  ReadOnlyDb::Statement open_alert(
      db,
      "SELECT id, last_seen, reasons, count FROM alerts WHERE subject LIKE ?1 AND status != 3 "
      "ORDER BY id DESC LIMIT 1");
  ReadOnlyDb::Statement status_of(db, "SELECT status FROM alerts WHERE id = ?1");
  std::vector<Trial> results;
  for (int n = 0; n < trials; ++n) {
    if (!agent.Running()) Die("the agent exited; its log:\n" + AllOutputOf("cat " + log));
    Trial trial;
    trial.delay_ms = delay_ms(random);
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int>(trial.delay_ms)));
    // Every other trial uses the backdoor port, whose alert then reopens; the others a fresh port.
    UniqueFd listener;
    for (int attempt = 0; attempt < 50 && listener.get() < 0; ++attempt) {
      trial.port =
          n % 2 == 0 && attempt == 0 ? kBackdoorPort : static_cast<uint16_t>(random_port(random));
      listener = OpenListener(trial.port);
    }
    if (listener.get() < 0) Die("no free port to listen on for a trial");
    const double opened_wall = WallMillis();
    const auto opened = Clock::now();
    const std::string subject = fmt::format("listener tcp/{} %", trial.port);
    open_alert.Bind(1, subject);

    int64_t alert_id = 0;
    while (Clock::now() - opened < kTrialTimeout) {
      if (open_alert.Step()) {
        trial.latency_ms = Millis(Clock::now() - opened);
        const double visible_wall = WallMillis();
        alert_id = open_alert.Int(0);
        const auto seen_at = static_cast<double>(open_alert.Int(1));
        trial.wait_ms = seen_at - opened_wall;
        trial.pipeline_ms = visible_wall - seen_at;
        trial.reopened = open_alert.Int(3) > 1;
        const nlohmann::json reasons = nlohmann::json::parse(open_alert.Text(2), nullptr, false);
        std::vector<std::string> names;
        if (reasons.is_array()) {
          for (const auto& reason : reasons) names.push_back(reason.value("rule", "?"));
        }
        trial.rules = fmt::format("{}", fmt::join(names, ", "));
        break;
      }
      std::this_thread::sleep_for(kPollEvery);
    }
    open_alert.Done();
    if (alert_id != 0) {
      // What an operator sees: the CLI lists the alert.
      const std::string listed =
          AllOutputOf(fmt::format("'{}' alerts --json --open --db '{}'", portwatch, db_path));
      trial.cli_listed = listed.find(fmt::format("tcp/{} ", trial.port)) != std::string::npos;
    }

    listener.Reset();
    const auto closed = Clock::now();
    while (Clock::now() - closed < kTrialTimeout) {
      const bool resolved = alert_id != 0
                                ? status_of.Bind(1, alert_id).Step() && status_of.Int(0) == 3
                                : !open_alert.Step();
      status_of.Done();
      open_alert.Done();
      if (resolved) {
        trial.resolve_ms = Millis(Clock::now() - closed);
        break;
      }
      std::this_thread::sleep_for(kPollEvery);
    }
    Say("trial {}/{}: port {}, {}", n + 1, trials, trial.port,
        trial.latency_ms < 0 ? std::string("no alert within 5 s")
                             : fmt::format("{:.0f} ms ({})", trial.latency_ms, trial.rules));
    results.push_back(trial);
    if (trial.resolve_ms < 0) Die(fmt::format("the alert on port {} did not resolve", trial.port));
  }
  return results;
}

// ---- the report -----------------------------------------------------------------------------

struct Options {
  std::string portwatch;
  std::string farm;
  std::string rules;
  std::string dir;
  std::string out;
  int runs = 15;
  int warmup = 10;
  int seconds = 60;
  int trials = 20;
  uint64_t seed = 1;
  bool keep = false;
};

constexpr const char* kUsage =
    "usage: agent_bench [--portwatch PATH] [--farm PATH] [--rules FILE|none] [--dir DIR]\n"
    "                   [--runs N] [--warmup S] [--seconds S] [--trials N] [--seed S]\n"
    "                   [--out FILE] [--keep]\n"
    "  --portwatch PATH  portwatch binary the agent runs from (default: the one built with\n"
    "                    agent_bench)\n"
    "  --farm PATH       conn_farm binary (default: next to agent_bench)\n"
    "  --rules FILE      rules file evaluated besides the built-in detectors (default:\n"
    "                    packaging/rules.d/example.yaml); none: only the built-in detectors\n"
    "  --dir DIR         where the agent's database goes (default: a new directory under\n"
    "                    $TMPDIR or /tmp)\n"
    "  --runs N          timed snapshots per size (default 15)\n"
    "  --warmup S        seconds the agent runs before it is measured (default 10)\n"
    "  --seconds S       length of the agent's and ss's CPU measurement (default 60)\n"
    "  --trials N        new listeners opened for the detection latency (default 20)\n"
    "  --seed S          seed of the trials' delays and ports (default 1)\n"
    "  --out FILE        also write the markdown report to FILE\n"
    "  --keep            keep the agent's database and log\n";

Options ParseOptions(int argc, char** argv) {
  Options options;
  options.portwatch = PORTWATCH_BINARY;
  const std::string example = PORTWATCH_SOURCE_DIR "/packaging/rules.d/example.yaml";
  if (std::filesystem::exists(example)) options.rules = example;
  ParseFlags(argc, argv, kUsage,
             {{"--portwatch", &options.portwatch},
              {"--farm", &options.farm},
              {"--rules", &options.rules},
              {"--dir", &options.dir},
              {"--out", &options.out},
              {"--runs", &options.runs},
              {"--warmup", &options.warmup},
              {"--seconds", &options.seconds},
              {"--trials", &options.trials},
              {"--seed", &options.seed},
              {"--keep", &options.keep}});
  if (options.rules == "none") options.rules.clear();
  if (options.farm.empty()) options.farm = NextToThisProgram("conn_farm");
  for (const std::string* path : {&options.portwatch, &options.farm}) {
    if (access(path->c_str(), X_OK) != 0) {
      BadUsage(*path + " is not an executable; build it first", kUsage);
    }
  }
  return options;
}

// A path as given on the command line of the report: relative to the repository when inside it.
std::string ShownPath(const std::string& path) {
  const std::filesystem::path absolute = std::filesystem::absolute(path).lexically_normal();
  const std::filesystem::path relative = absolute.lexically_relative(PORTWATCH_SOURCE_DIR);
  return !relative.empty() && !relative.string().starts_with("..") ? relative.string()
                                                                   : absolute.string();
}

std::string TimingCells(const std::vector<double>& ms) {
  const TimingSummary t = Summarize(ms);
  return fmt::format("{:.2f} | {:.2f} | {:.2f} | {}", t.median, t.p90, t.max, t.count);
}

// The rules' share of the snapshot: median over median, and the per-run ratios' p90 and max.
struct Share {
  double of_medians = 0, p90 = 0, max = 0;
};
Share ShareOf(const std::vector<double>& rules_ms, const std::vector<double>& collect_ms) {
  std::vector<double> ratios;
  for (size_t i = 0; i < rules_ms.size() && i < collect_ms.size(); ++i) {
    ratios.push_back(rules_ms[i] / collect_ms[i]);
  }
  return {Percentile(rules_ms, 50) / Percentile(collect_ms, 50), Percentile(ratios, 90),
          Max(ratios)};
}

std::string MixText(const SocketMix& mix) {
  return fmt::format(
      "{} listeners, {} inbound, {} outbound, {} local (both ends on this host), {} "
      "other",
      mix.listeners, mix.inbound, mix.outbound, mix.local, mix.other);
}

// One breakdown table for a set of engine series: a column pair per series, a row per part.
std::string BreakdownTable(const std::vector<EngineSeries>& series) {
  std::vector<std::string> names;
  for (const EngineSeries& one : series) {
    for (const Part& part : one.breakdown->parts()) {
      if (std::find(names.begin(), names.end(), part.name) == names.end()) {
        names.push_back(part.name);
      }
    }
  }
  std::string table = "| part (median ms, findings) |";
  std::string rule = "|---|";
  for (const EngineSeries& one : series) {
    table += fmt::format(" {}: ms | findings |", one.label);
    rule += "---:|---:|";
  }
  table += "\n" + rule + "\n";
  for (const std::string& name : names) {
    table += fmt::format("| `{}` |", name);
    for (const EngineSeries& one : series) {
      const auto& parts = one.breakdown->parts();
      const auto part =
          std::find_if(parts.begin(), parts.end(), [&](const Part& p) { return p.name == name; });
      table += part == parts.end()
                   ? " — | — |"
                   : fmt::format(" {:.3f} | {} |", Percentile(part->ms, 50), part->findings);
    }
    table += "\n";
  }
  table +=
      "| the engine's own work: whole `Evaluate` less the parts' medians (noise can make it "
      "negative) |";
  for (const EngineSeries& one : series) {
    double parts = 0;
    for (const Part& part : one.breakdown->parts()) parts += Percentile(part.ms, 50);
    table += fmt::format(" {:.3f} | |", Percentile(one.ms, 50) - parts);
  }
  table += "\n| **whole `Evaluate`** |";
  for (const EngineSeries& one : series) {
    table += fmt::format(" **{:.3f}** | {} |", Percentile(one.ms, 50), one.findings);
  }
  return table + "\n";
}

}  // namespace

int main(int argc, char** argv) {
  SetProgramName("agent_bench");
  const Options options = ParseOptions(argc, argv);
  LogLibrariesToStderr();
  if (geteuid() != 0) Say("warning: not root; owners of other users' sockets will be invisible");

  const WorkDirectory work = MakeWorkDirectory(options.dir);
  const std::string& dir = work.path;
  if (!work.temporary &&
      (std::filesystem::exists(dir + "/h.db") || std::filesystem::exists(dir + "/baseline.yaml"))) {
    Die(dir + " already holds an agent's database or baseline; give an empty directory");
  }
  Say("agent's database in {}", dir);
  RunConditions conditions =
      RunConditions::Begin(PORTWATCH_SOURCE_DIR, "agent collectors store packaging/rules.d",
                           {"snapshot_bench", "store_bench", "conn_farm", "portwatch agent"});

  // 1. The rule sets: the built-in detectors with their defaults, and with the example file.
  const rules::RuleSet built_in{};
  std::optional<rules::RuleSet> from_file;
  std::vector<std::pair<std::string, const rules::RuleSet*>> rule_sets = {
      {"built-in detectors", &built_in}};
  if (!options.rules.empty()) {
    from_file = Check(rules::LoadRules({options.rules}), "loading " + options.rules);
    rule_sets.emplace_back(
        fmt::format("+ {}", std::filesystem::path(options.rules).filename().string()), &*from_file);
  }
  const size_t file_rules = from_file ? rules::Engine(*from_file).rule_count() : 0;
  const size_t file_detectors = from_file ? rules::Engine(*from_file).detector_count() : 0;
  const size_t built_in_detectors = rules::Engine(built_in).detector_count();

  // The large size first, so the small farm stays up for the agent's measurements.
  std::vector<RulesResult> sizes;
  {
    const auto farm = StartFarm(options.farm, kLargeConnections);
    sizes.push_back(RunRules(kLargeConnections, options.runs, rule_sets));
  }
  const auto farm = StartFarm(options.farm, kSmallConnections);
  sizes.insert(sizes.begin(), RunRules(kSmallConnections, options.runs, rule_sets));

  // 2. The agent: CPU and memory over a minute, then 3. the detection latency, then ss -tanp
  // looped for the same length of time with the agent stopped.
  const std::string log = dir + "/agent.log";
  Say("starting {} agent --db {}/h.db", options.portwatch, dir);
  const auto agent_started = Clock::now();
  std::unique_ptr<AgentProcess> agent =
      AgentProcess::Start(options.portwatch, dir + "/h.db", log, {"--listen", "127.0.0.1:0"});
  const AgentResult agent_result =
      MeasureAgent(*agent, dir, log, agent_started, options.warmup, options.seconds);
  Say("detection latency: {} trials", options.trials);
  const std::vector<Trial> trials =
      MeasureLatency(*agent, options.portwatch, dir, log, options.trials, options.seed);
  const std::optional<ProcessSample> agent_end = SampleProcess(agent->pid());
  const int agent_exit = agent->Stop();
  const std::string agent_problems =
      AllOutputOf(fmt::format("grep -E ' (warn|warning|error|critical) ' '{}' | head -n 5", log));
  const LoopResult ss = LoopSs(options.seconds);

  conditions.End();

  // ---- report ----
  std::string report;
  auto out = std::back_inserter(report);
  std::error_code ignored;
  const std::string self = ShownPath(std::filesystem::read_symlink("/proc/self/exe", ignored));
  const std::string build_dir =
      std::filesystem::path(self).parent_path().parent_path().parent_path().string();
  std::string reproduce = self;
  for (int i = 1; i < argc; ++i) reproduce += std::string(" ") + argv[i];
  fmt::format_to(out, "# portwatch agent benchmark\n\n");
  fmt::format_to(out,
                 "- Reproduce (as root, from the repository root): `cmake -S . -B {0} "
                 "-DCMAKE_BUILD_TYPE=Release -DPORTWATCH_BUILD_BENCH=ON && cmake --build {0} "
                 "--target agent_bench && {1}`\n",
                 build_dir, reproduce);
  fmt::format_to(
      out, "- Commit {}{}; build type {}, {}, SQLite {}; agent binary `{}`\n", conditions.commit(),
      conditions.uncommitted().empty()
          ? ""
          : " (uncommitted in agent/, collectors/, store/, packaging/rules.d/: " +
                conditions.uncommitted() + ")",
      PORTWATCH_BUILD_TYPE, "gcc " __VERSION__, sqlite3_libversion(), ShownPath(options.portwatch));
  fmt::format_to(out, "- Host: {}\n", HostText());
  fmt::format_to(out, "- {}\n", conditions.LoadText());
  if (!conditions.other_benchmarks().empty()) {
    fmt::format_to(out,
                   "- **Warning: other benchmarks or agents ran during this run; figures are "
                   "skewed:** {}\n",
                   fmt::join(conditions.other_benchmarks(), "; "));
  }

  // Results against the targets.
  fmt::format_to(
      out, "\n## Results\n\n| measurement | result | target | verdict |\n|---|---|---|---|\n");
  for (auto size = sizes.rbegin(); size != sizes.rend(); ++size) {
    for (const EngineSeries& series : size->series) {
      const Share share = ShareOf(series.ms, size->collect_ms);
      fmt::format_to(out,
                     "| Rules evaluation at {}k sockets, {}: median {:.2f} ms vs `Collect()` "
                     "{:.1f} ms | {:.1f}% (per run: p90 {:.1f}%, max {:.1f}%) | ≤ {:.0f}%{} | "
                     "{} |\n",
                     size->sockets / 1000, series.label, Percentile(series.ms, 50),
                     Percentile(size->collect_ms, 50), 100 * share.of_medians, 100 * share.p90,
                     100 * share.max, 100 * kRulesShareTarget,
                     size->connections == kLargeConnections ? "" : " (set for 50k)",
                     Verdict(share.of_medians, kRulesShareTarget));
    }
  }
  const RulesResult& largest = sizes.back();
  for (const EngineSeries& series : largest.off_host) {
    std::vector<std::string> top;
    for (const Part& part : series.breakdown->parts()) {
      if (Percentile(part.ms, 50) >= 1) {
        top.push_back(fmt::format("`{}` {:.1f} ms", part.name, Percentile(part.ms, 50)));
      }
    }
    fmt::format_to(out,
                   "| Informational: the {}k-socket snapshot rewritten so every connection is "
                   "outbound (synthetic, section 1), {}: median {:.2f} ms | {:.1f}% of the real "
                   "`Collect()`{} | — | info |\n",
                   largest.sockets / 1000, series.label, Percentile(series.ms, 50),
                   100 * Percentile(series.ms, 50) / Percentile(largest.collect_ms, 50),
                   top.empty() ? "" : fmt::format("; {}", fmt::join(top, ", ")));
  }
  fmt::format_to(out,
                 "| Agent CPU at {}k sockets, 1 s interval, over {:.0f} s | {:.2f}% of one core "
                 "({:.2f} s CPU) | ≤ {:.0f}% | {} |\n",
                 agent_result.sockets / 1000, agent_result.measured_s, agent_result.CpuPercent(),
                 agent_result.cpu_s, kCpuTargetPercent,
                 Verdict(agent_result.CpuPercent(), kCpuTargetPercent));
  const double hwm_bytes = static_cast<double>(agent_result.hwm_kib) * 1024;
  fmt::format_to(out,
                 "| Agent peak RSS (VmHWM, since start) at {}k sockets | {:.1f} MB | ≤ {:.0f} MB "
                 "| {} |\n",
                 agent_result.sockets / 1000, hwm_bytes / 1e6, kRssTargetBytes / 1e6,
                 Verdict(hwm_bytes, kRssTargetBytes));
  std::vector<double> latencies;
  int missed = 0;
  for (const Trial& trial : trials) {
    if (trial.latency_ms < 0) {
      ++missed;
      latencies.push_back(std::numeric_limits<double>::infinity());
    } else {
      latencies.push_back(trial.latency_ms);
    }
  }
  const auto ms_text = [](double ms) {
    return std::isinf(ms) ? std::string("none within 5 s") : fmt::format("{:.0f} ms", ms);
  };
  fmt::format_to(out,
                 "| Detection latency, new listener → alert visible, {} trials: p95 | {} (p50 {}, "
                 "max {}{}) | ≤ {:.0f} ms | {} |\n",
                 trials.size(), ms_text(Percentile(latencies, 95)),
                 ms_text(Percentile(latencies, 50)), ms_text(Max(latencies)),
                 missed > 0 ? fmt::format(", {} missed", missed) : "", kLatencyTargetMs,
                 Verdict(Percentile(latencies, 95), kLatencyTargetMs));
  if (ss.failure.empty()) {
    fmt::format_to(out,
                   "| `ss -tanp` once a second instead, {:.0f} s | {:.2f}% of one core ({:.2f} s "
                   "CPU, {} runs), peak RSS {:.1f} MB; the agent uses {:.2f}× its CPU | — | info "
                   "|\n",
                   ss.wall_s, ss.CpuPercent(), ss.cpu_s, ss.run_ms.size(),
                   static_cast<double>(ss.peak_kib) * 1024 / 1e6,
                   ss.cpu_s > 0 ? agent_result.CpuPercent() / ss.CpuPercent() : 0.0);
  } else {
    fmt::format_to(out, "| `ss -tanp` once a second | {} | — | — |\n", ss.failure);
  }

  // 1. Rules next to the snapshot.
  fmt::format_to(out, "\n## 1. Rules evaluation next to the snapshot\n\n");
  fmt::format_to(
      out,
      "`collectors::MakeCollector({{}})->Collect()` (every protocol, with owners) and "
      "`rules::Engine::Evaluate(snapshot, now)` on the same snapshots, in this process, while "
      "`conn_farm N` holds N loopback connections (2N sockets). One untimed collection first "
      "(it fills the collector's process cache, as the agent's first interval does); a "
      "`Baseline` is learned from it, as the agent learns its own, and set on every engine, so "
      "`unexpected_listener` checks every listener. Each engine then evaluates that snapshot "
      "once (\"first\": detectors that remember what they saw start empty) and each of the "
      "{} timed snapshots, in rotating order, as the agent would, interval after interval. "
      "Rule sets: **built-in detectors** = `Engine(RuleSet{{}})`, the {} detectors enabled by "
      "default with their default settings{}. CPU is this process's user + system time over "
      "the call (the collector scans fds on a second thread). The share is the median "
      "`Evaluate` over the median `Collect()`; the per-run figures divide each run's "
      "`Evaluate` by its own snapshot's `Collect()`.\n",
      options.runs, built_in_detectors,
      from_file
          ? fmt::format("; **+ {}** = `rules::LoadRules({{\"{}\"}})`: {} rules and {} detectors "
                        "(it enables `privileged_port` and `new_outbound` and adds exceptions)",
                        std::filesystem::path(options.rules).filename().string(),
                        ShownPath(options.rules), file_rules, file_detectors)
          : std::string(" (no rules file: --rules none, or the example file is missing)"));
  for (const RulesResult& size : sizes) {
    fmt::format_to(out, "\n### {}k sockets (`conn_farm {}`)\n\n", size.sockets / 1000,
                   size.connections);
    fmt::format_to(out,
                   "{} sockets in the last snapshot ({}); owners: {} processes; baseline entries "
                   "learned: {}.\n\n",
                   size.sockets, MixText(size.mix), size.processes, size.baseline_entries);
    fmt::format_to(out,
                   "| wall time (ms) | median | p90 | max | runs | CPU ms (median) | first |\n"
                   "|---|---:|---:|---:|---:|---:|---:|\n");
    fmt::format_to(out, "| `Collect()` | {} | {:.2f} | |\n", TimingCells(size.collect_ms),
                   Percentile(size.collect_cpu_ms, 50));
    for (const EngineSeries& series : size.series) {
      fmt::format_to(out, "| `Evaluate`, {} | {} | {:.2f} | {:.2f} |\n", series.label,
                     TimingCells(series.ms), Percentile(series.cpu_ms, 50), series.first_ms);
    }
    fmt::format_to(out,
                   "\n| share of the snapshot | median / median | per run: p90 | max |\n"
                   "|---|---:|---:|---:|\n");
    for (const EngineSeries& series : size.series) {
      const Share share = ShareOf(series.ms, size.collect_ms);
      fmt::format_to(out, "| {} | {:.2f}% | {:.2f}% | {:.2f}% |\n", series.label,
                     100 * share.of_medians, 100 * share.p90, 100 * share.max);
    }
    fmt::format_to(out,
                   "\nWhere an evaluation's time goes: each detector's `Inspect` and the rules "
                   "files' rules (an engine with every detector off) timed on their own, on the "
                   "same snapshots, after the engines:\n\n{}",
                   BreakdownTable(size.series));
  }

  fmt::format_to(out,
                 "\n### Informational: the same snapshots as if the connections left the host\n\n");
  fmt::format_to(
      out,
      "conn_farm's connections are loopback ones (both ends here, direction `local`), which "
      "`fan_out` and `new_outbound` skip. To see what those cost on a host whose connections go "
      "elsewhere, the last snapshot of each size is rewritten — every loopback connection's end "
      "gets local address 10.0.0.5 and a public peer on port 443 (20k distinct hosts) — and "
      "derived again, which makes every farm socket an outbound connection. Fresh engines "
      "evaluate it once (\"first\": every connection is new) and then {} times more at the real "
      "clock, as an agent would see an unchanged host; `fan_out` keeps judging its window (60 s) "
      "during all of them. Not a target, and not what a real host would show: no real snapshot "
      "has 50k connections that all appeared at once.\n\n",
      options.runs);
  for (const RulesResult& size : sizes) {
    fmt::format_to(out, "**{}k sockets** ({}):\n\n", size.sockets / 1000,
                   MixText(size.off_host_mix));
    fmt::format_to(out,
                   "| `Evaluate` wall time (ms) | first | median | p90 | max | runs | findings "
                   "(first / later) | share of the real `Collect()` median |\n"
                   "|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for (const EngineSeries& series : size.off_host) {
      fmt::format_to(out, "| {} | {:.2f} | {} | {} / {} | {:.1f}% |\n", series.label,
                     series.first_ms, TimingCells(series.ms), series.first_findings,
                     series.findings,
                     100 * Percentile(series.ms, 50) / Percentile(size.collect_ms, 50));
    }
    fmt::format_to(out, "\n{}\n", BreakdownTable(size.off_host));
  }

  // 2. The agent.
  const AgentResult& a = agent_result;
  fmt::format_to(out, "\n## 2. The agent at {}k sockets, 1 s interval\n\n", a.sockets / 1000);
  fmt::format_to(
      out,
      "`conn_farm {}` holds {} loopback connections; `{} agent --db {}/h.db` runs with the "
      "built-in defaults (1 s interval, built-in detectors, a baseline learned from its first "
      "snapshot, history and alerts in its own fresh database). After {:.0f} s of warm-up, "
      "`/proc/PID/stat` (utime + stime, all threads) and `/proc/PID/status` (VmRSS, VmHWM) are "
      "read once a second for {:.1f} s. The agent recorded {} intervals in that time (its "
      "`samples` rows), the last with {} sockets. Other processes used {:.0f}% of the machine's "
      "CPU meanwhile{}.\n\n",
      kSmallConnections, kSmallConnections, ShownPath(options.portwatch), dir, a.warmup_s,
      a.measured_s, a.intervals, a.sockets, 100 * a.others_share,
      a.others_share > 0.1 ? " (**busy: the figure may be inflated by contention**)" : "");
  fmt::format_to(out,
                 "| agent | value |\n|---|---:|\n"
                 "| CPU over the whole measurement | {:.2f}% of one core ({:.2f} s in {:.1f} s) "
                 "|\n"
                 "| of which in the kernel (stime) | {:.0f}% |\n"
                 "| CPU per interval (≈ per second) | {:.1f} ms |\n"
                 "| CPU per one-second sample: median / p90 / max | {:.1f}% / {:.1f}% / {:.1f}% "
                 "|\n"
                 "| VmRSS at the start / end of the measurement, max sampled | {:.1f} / {:.1f} / "
                 "{:.1f} MB |\n"
                 "| VmHWM (peak RSS since the agent started) | {:.1f} MB |\n",
                 a.CpuPercent(), a.cpu_s, a.measured_s,
                 a.cpu_s > 0 ? 100 * a.system_s / a.cpu_s : 0.0,
                 a.intervals > 0 ? 1000 * a.cpu_s / static_cast<double>(a.intervals) : 0.0,
                 Percentile(a.cpu_percent_per_second, 50), Percentile(a.cpu_percent_per_second, 90),
                 Max(a.cpu_percent_per_second), static_cast<double>(a.rss_first_kib) * 1024 / 1e6,
                 static_cast<double>(a.rss_last_kib) * 1024 / 1e6,
                 static_cast<double>(a.rss_max_kib) * 1024 / 1e6, hwm_bytes / 1e6);
  if (agent_end) {
    fmt::format_to(out,
                   "| VmHWM after the latency trials too (the agent's whole life) | {:.1f} MB |\n",
                   static_cast<double>(agent_end->hwm_kib) * 1024 / 1e6);
  }
  const RulesResult& small = sizes.front();
  const double collect_cpu = Percentile(small.collect_cpu_ms, 50);
  const double evaluate_cpu = Percentile(small.series.front().cpu_ms, 50);
  const double per_interval =
      a.intervals > 0 ? 1000 * a.cpu_s / static_cast<double>(a.intervals) : 0.0;
  fmt::format_to(out,
                 "\nWhere it goes, from section 1 at the same size: one `Collect()` costs {:.1f} "
                 "ms of CPU (median) — {:.0f}% of the agent's {:.1f} ms per interval, and {:.1f}% "
                 "of one core on its own at one snapshot a second{} — and one `Evaluate` with "
                 "the built-in detectors {:.2f} ms; the rest of an interval is the history "
                 "write, the alert tracker and the checkpoint.\n",
                 collect_cpu, per_interval > 0 ? 100 * collect_cpu / per_interval : 0.0,
                 per_interval, collect_cpu / 10,
                 collect_cpu / 10 > kCpuTargetPercent
                     ? fmt::format(", more than the whole {:.0f}% budget", kCpuTargetPercent)
                     : "",
                 evaluate_cpu);
  fmt::format_to(out, "\nThe agent exited with status {} on SIGTERM{}.\n", agent_exit,
                 agent_problems.empty()
                     ? "; its log has no warnings or errors"
                     : fmt::format("; its log's warnings and errors (first 5):\n\n```\n{}```",
                                   agent_problems));
  fmt::format_to(out, "\n### `ss -tanp` once a second, for comparison\n\n");
  if (ss.failure.empty()) {
    fmt::format_to(
        out,
        "What an operator would otherwise loop: `ss -tanp` (every TCP socket with its owners) "
        "started once a second for {:.0f} s with its output to /dev/null, with the same farm "
        "and the agent stopped (run side by side, the two would compete for the same two "
        "cores and the figure checked against the target would include the contention). CPU "
        "is the user + system time of the `ss` runs (wait4).\n\n"
        "| `ss -tanp` | value |\n|---|---:|\n"
        "| CPU | {:.2f}% of one core ({:.2f} s in {:.1f} s) |\n"
        "| runs; wall time per run median / max | {}; {:.0f} / {:.0f} ms |\n"
        "| peak RSS of a run | {:.1f} MB |\n"
        "| agent CPU / `ss -tanp` CPU | {:.2f}× |\n",
        ss.wall_s, ss.CpuPercent(), ss.cpu_s, ss.wall_s, ss.run_ms.size(),
        Percentile(ss.run_ms, 50), Max(ss.run_ms), static_cast<double>(ss.peak_kib) * 1024 / 1e6,
        ss.cpu_s > 0 ? a.CpuPercent() / ss.CpuPercent() : 0.0);
  } else {
    fmt::format_to(out, "Not measured: {}.\n", ss.failure);
  }

  // 3. Detection latency.
  std::vector<double> waits, pipelines, resolves;
  int cli_listed = 0;
  for (const Trial& trial : trials) {
    if (trial.latency_ms < 0) continue;
    waits.push_back(trial.wait_ms);
    pipelines.push_back(trial.pipeline_ms);
    resolves.push_back(trial.resolve_ms);
    cli_listed += trial.cli_listed ? 1 : 0;
  }
  fmt::format_to(out, "\n## 3. Detection latency\n\n");
  fmt::format_to(
      out,
      "The same agent (same farm, {}k sockets, 1 s interval), after the CPU measurement. Each "
      "trial waits a random 250–1250 ms (so the moment falls anywhere in the agent's interval), "
      "opens a TCP listener on 0.0.0.0 in this process — on {} (a backdoor port on the "
      "built-in list) in every other trial, whose alert then reopens, else on a random free port "
      "in {}–{} (inside the ephemeral range, so `dynamic_range_listener` fires too) — and polls "
      "the agent's database read-only with the SQLite API every {} ms for an alert that is not "
      "resolved and whose subject is `listener tcp/PORT …`. The latency is the wall time from "
      "`listen()` to the poll that first sees the row. It splits into the wait for the agent's "
      "next snapshot (the row's `last_seen`, when that snapshot started, minus the open time; "
      "slightly negative when the listener appeared while the snapshot was starting) and the "
      "pipeline (collect, write, rules, alert commit; visible minus `last_seen`). Then `{} "
      "alerts --json --open` is run once to check that the CLI lists it, the listener is "
      "closed, and the next trial waits until the alert is resolved.\n\n",
      a.sockets / 1000, kBackdoorPort, kRandomPortFirst, kRandomPortLast, kPollEvery.count(),
      ShownPath(options.portwatch));
  fmt::format_to(out,
                 "| ms | p50 | p95 | max |\n|---|---:|---:|---:|\n"
                 "| open → alert visible | {} | {} | {} |\n"
                 "| open → next snapshot starts | {:.0f} | {:.0f} | {:.0f} |\n"
                 "| snapshot start → alert visible | {:.0f} | {:.0f} | {:.0f} |\n"
                 "| close → alert resolved | {:.0f} | {:.0f} | {:.0f} |\n\n",
                 ms_text(Percentile(latencies, 50)), ms_text(Percentile(latencies, 95)),
                 ms_text(Max(latencies)), Percentile(waits, 50), Percentile(waits, 95), Max(waits),
                 Percentile(pipelines, 50), Percentile(pipelines, 95), Max(pipelines),
                 Percentile(resolves, 50), Percentile(resolves, 95), Max(resolves));
  fmt::format_to(out, "The CLI listed {} of the {} alerts seen.\n\n", cli_listed, waits.size());
  fmt::format_to(out,
                 "| trial | port | delay (ms) | latency (ms) | wait (ms) | pipeline (ms) | "
                 "detectors that fired | new / reopened | resolved after (ms) |\n"
                 "|---:|---:|---:|---:|---:|---:|---|---|---:|\n");
  for (size_t i = 0; i < trials.size(); ++i) {
    const Trial& t = trials[i];
    if (t.latency_ms < 0) {
      fmt::format_to(out, "| {} | {} | {:.0f} | none within 5 s | | | | | |\n", i + 1, t.port,
                     t.delay_ms);
      continue;
    }
    fmt::format_to(out, "| {} | {} | {:.0f} | {:.0f} | {:.0f} | {:.0f} | {} | {} | {:.0f} |\n",
                   i + 1, t.port, t.delay_ms, t.latency_ms, t.wait_ms, t.pipeline_ms, t.rules,
                   t.reopened ? "reopened" : "new", t.resolve_ms);
  }

  PublishReport(report, options.out);
  if (work.temporary && !options.keep) {
    std::filesystem::remove_all(dir, ignored);
  } else {
    Say("the agent's database and log kept in {}", dir);
  }
  return 0;
}
