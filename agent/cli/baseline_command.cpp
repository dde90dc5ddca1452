// `portwatch baseline learn`: watch the listeners for a while and write them as the baseline the
// agent's unexpected-listener detector compares against.

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <set>
#include <thread>

#include "agent/cli/command_errors.h"
#include "agent/cli/commands.h"
#include "agent/cli/exit_codes.h"
#include "agent/cli/state_paths.h"
#include "agent/rules/baseline.h"
#include "agent/rules_stage.h"
#include "agent/signals.h"
#include "collectors/collector.h"
#include "collectors/time_text.h"

namespace portwatch::agent {

namespace {

struct BaselineFlags {
  std::string duration = "10m";
  std::string interval = "1s";
  std::string out;
  bool merge = false;
};

constexpr CommandErrors kErrors{"baseline"};

int Learn(const BaselineFlags& flags) {
  Result<int64_t> duration = collectors::ParseDuration(flags.duration);
  if (!duration) return kErrors.Usage(fmt::format("--for: {}", duration.error().message));
  Result<int64_t> interval = collectors::ParseDuration(flags.interval);
  if (!interval) return kErrors.Usage(fmt::format("--interval: {}", interval.error().message));
  if (*interval < 100) return kErrors.Usage("--interval: must be at least 100ms");
  const std::string out =
      flags.out.empty() ? DefaultBaselinePath(DefaultDatabasePath()) : flags.out;

  rules::Baseline baseline;
  if (flags.merge && std::filesystem::exists(out)) {
    Result<rules::Baseline> existing = rules::Baseline::Load(out);
    if (!existing) return kErrors.Failure(existing.error().message);
    baseline = std::move(existing).value();
  }
  if (Result<void> made = EnsureParentDirectory(out); !made)
    return kErrors.Failure(made.error().message);

  // 1. Snapshots every interval for the whole duration; Ctrl-C ends early and writes nothing.
  SignalFlags& signals = InstallSignalHandlers();
  std::unique_ptr<collectors::Collector> collector = collectors::MakeCollector({});
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::milliseconds(*duration);
  int snapshots = 0;
  int learned = 0;
  std::set<std::string> warned;
  for (auto next = start;; next += std::chrono::milliseconds(*interval)) {
    Result<collectors::Snapshot> snapshot = collector->Collect();
    if (!snapshot) return kErrors.Failure(snapshot.error().message);
    learned += baseline.Learn(*snapshot);
    ++snapshots;
    for (const std::string& warning : snapshot->warnings) {
      if (warned.insert(warning).second) fmt::print(stderr, "portwatch baseline: {}\n", warning);
    }
    if (next + std::chrono::milliseconds(*interval) > end) break;
    while (!signals.stop.load() &&
           std::chrono::steady_clock::now() < next + std::chrono::milliseconds(*interval)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (signals.stop.load()) return kErrors.Failure("interrupted; no baseline written");
  }

  // 2. The file, atomically.
  const std::string comment = fmt::format(
      "portwatch baseline: the listeners expected on this host, learned by `portwatch baseline\n"
      "learn --for {}` from {} snapshots. Edit freely: an entry allows every listener matching\n"
      "all the fields it sets; a program with a '/' is a glob over the executable's path, else\n"
      "over the process name. The agent reads it at start and on SIGHUP.",
      flags.duration, snapshots);
  if (Result<void> saved = baseline.Save(out, comment); !saved)
    return kErrors.Failure(saved.error().message);
  fmt::print("{}: {} listeners ({} new) from {} snapshots\n", out, baseline.entries().size(),
             learned, snapshots);
  const auto unowned =
      std::count_if(baseline.entries().begin(), baseline.entries().end(),
                    [](const rules::BaselineEntry& entry) { return entry.program.empty(); });
  if (unowned > 0) {
    fmt::print(stderr,
               "portwatch baseline: {} listeners had no owner that could be read, so their "
               "entries allow any program on their port; run as root to name the programs\n",
               unowned);
  }
  return kExitOk;
}

}  // namespace

void AddBaselineCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<BaselineFlags>();
  CLI::App* command =
      app.add_subcommand("baseline", "The listeners expected on this host (the allowlist)");
  command->require_subcommand(1);
  CLI::App* learn = command->add_subcommand(
      "learn", "Watch the listeners for a while and write them as the baseline");
  learn->add_option("--for", flags->duration, "How long to watch (default 10m)");
  learn->add_option("--interval", flags->interval, "How often to look (default 1s)");
  learn->add_option("-o,--out", flags->out,
                    "Baseline file (default: " + DefaultBaselinePath(DefaultDatabasePath()) + ")");
  learn->add_flag("--merge", flags->merge, "Add to the existing file instead of replacing it");
  learn->callback([flags, &exit_code] { exit_code = Learn(*flags); });
}

}  // namespace portwatch::agent
