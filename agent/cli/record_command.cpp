// `portwatch record`: runs the collector into the history database for a while, without the
// full agent — the store on its own, for trying it out and for tests.

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <memory>

#include "agent/cli/commands.h"
#include "agent/cli/exit_codes.h"
#include "agent/cli/size_argument.h"
#include "agent/cli/state_paths.h"
#include "agent/config.h"
#include "agent/instance_lock.h"
#include "agent/loop.h"
#include "agent/signals.h"
#include "collectors/time_text.h"
#include "store/retention.h"

namespace portwatch::agent {

namespace {

struct RecordFlags {
  std::string db;
  std::string duration;
  std::string interval = "1s";
  std::string keep = "30d";
  std::string max_size = "1G";
};

int UsageError(std::string_view flag, const Error& error) {
  fmt::print(stderr, "portwatch record: {}: {}\n", flag, error.message);
  return kExitUsage;
}

int RunRecord(const RecordFlags& flags) {
  // 1. Flags into a config.
  Config config = DefaultConfig();
  std::optional<std::chrono::milliseconds> duration;
  if (!flags.duration.empty()) {
    Result<int64_t> parsed = collectors::ParseDuration(flags.duration);
    if (!parsed) return UsageError("--for", parsed.error());
    duration = std::chrono::milliseconds(*parsed);
  }
  Result<int64_t> interval = collectors::ParseDuration(flags.interval);
  if (!interval) return UsageError("--interval", interval.error());
  if (*interval < 100) return UsageError("--interval", Error{"must be at least 100ms"});
  config.interval = std::chrono::milliseconds(*interval);
  Result<int64_t> keep = collectors::ParseDuration(flags.keep);
  if (!keep) return UsageError("--keep", keep.error());
  config.retention.max_age = std::chrono::milliseconds(*keep);
  Result<uint64_t> max_size = ParseByteSize(flags.max_size);
  if (!max_size) return UsageError("--max-size", max_size.error());
  config.retention.max_bytes = *max_size;
  config.database = flags.db.empty() ? DefaultDatabasePath() : flags.db;

  // 2. The database, alone.
  if (Result<void> made = EnsureParentDirectory(config.database); !made) {
    fmt::print(stderr, "portwatch record: {}\n", made.error().message);
    return kExitFailure;
  }
  // The database is checked first, so nothing (not even a lock file) is left beside a file
  // that is not ours.
  Result<std::unique_ptr<Loop>> loop = Loop::Create(config, config.database);
  if (!loop) {
    fmt::print(stderr, "portwatch record: {}\n", loop.error().message);
    return kExitFailure;
  }
  Result<InstanceLock> lock = InstanceLock::Acquire(config.database);
  if (!lock) {
    fmt::print(stderr, "portwatch record: {}\n", lock.error().message);
    return kExitFailure;
  }

  // 3. Record until --for has passed or a signal.
  spdlog::info("recording into {} every {}", config.database, flags.interval);
  const LoopResult result = (*loop)->Run(InstallSignalHandlers(), duration);
  if (result.error) {
    fmt::print(stderr, "portwatch record: {}\n", result.error->message);
    return kExitFailure;
  }
  const uint64_t size = store::DatabaseBytes((*loop)->database());
  fmt::print(stderr, "portwatch record: {} intervals written to {} ({} KiB){}\n",
             result.intervals - result.failed_writes, config.database, size / 1024,
             result.failed_writes > 0
                 ? fmt::format(", {} could not be written", result.failed_writes)
                 : std::string());
  return result.behind ? kExitFailure : kExitOk;
}

}  // namespace

void AddRecordCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<RecordFlags>();
  CLI::App* command = app.add_subcommand(
      "record", "Record socket history into the database (the store without the full agent)");
  command->add_option("--db", flags->db,
                      "History database (default: " + DefaultDatabasePath() + ")");
  command->add_option("--for", flags->duration,
                      "Stop after this long (30s, 5m, 2h); default: until Ctrl-C");
  command->add_option("--interval", flags->interval, "Time between snapshots (default 1s)");
  command->add_option("--keep", flags->keep, "Delete history older than this (default 30d)");
  command->add_option("--max-size", flags->max_size,
                      "Delete the oldest history beyond this size (default 1G; 0: no limit)");
  command->callback([flags, &exit_code] { exit_code = RunRecord(*flags); });
}

}  // namespace portwatch::agent
