// `portwatch record`: runs the collector into the history database for a while, without the
// full agent — the store on its own, for trying it out and for tests.

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <memory>
#include <thread>

#include "agent/cli/commands.h"
#include "agent/cli/exit_codes.h"
#include "agent/cli/size_argument.h"
#include "agent/cli/state_paths.h"
#include "agent/cli/time_argument.h"
#include "collectors/collector.h"
#include "store/database.h"
#include "store/history_writer.h"
#include "store/retention.h"

namespace portwatch::agent {

namespace {

std::atomic<bool> stop_requested{false};

extern "C" void RequestStop(int) { stop_requested.store(true); }

struct RecordFlags {
  std::string db;
  std::string duration;
  std::string interval = "1s";
  std::string keep = "30d";
  std::string max_size = "1G";
};

// Retention work between intervals, bounded so it never delays the next snapshot much.
void Prune(store::Database& db, const store::RetentionPolicy& policy) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
  const int64_t now = store::ToMillis(std::chrono::system_clock::now());
  while (std::chrono::steady_clock::now() < deadline) {
    Result<store::PruneStats> pruned = store::PruneBatch(db, policy, now);
    if (!pruned) {
      spdlog::warn("cannot prune {}: {}", db.path(), pruned.error().message);
      return;
    }
    if (!pruned->more) return;
  }
}

int RunRecord(const RecordFlags& flags) {
  std::optional<int64_t> duration_ms;
  if (!flags.duration.empty()) {
    Result<int64_t> duration = ParseDuration(flags.duration);
    if (!duration) {
      fmt::print(stderr, "portwatch record: --for: {}\n", duration.error().message);
      return kExitUsage;
    }
    duration_ms = *duration;
  }
  Result<int64_t> interval = ParseDuration(flags.interval);
  if (!interval || *interval < 100) {
    fmt::print(stderr, "portwatch record: --interval: {}\n",
               interval ? "the interval must be at least 100ms" : interval.error().message);
    return kExitUsage;
  }
  store::RetentionPolicy retention;
  Result<int64_t> keep = ParseDuration(flags.keep);
  if (!keep) {
    fmt::print(stderr, "portwatch record: --keep: {}\n", keep.error().message);
    return kExitUsage;
  }
  retention.max_age = std::chrono::milliseconds(*keep);
  Result<uint64_t> max_size = ParseByteSize(flags.max_size);
  if (!max_size) {
    fmt::print(stderr, "portwatch record: --max-size: {}\n", max_size.error().message);
    return kExitUsage;
  }
  retention.max_bytes = *max_size;
  const std::string path = flags.db.empty() ? DefaultDatabasePath() : flags.db;
  if (Result<void> made = EnsureParentDirectory(path); !made) {
    fmt::print(stderr, "portwatch record: {}\n", made.error().message);
    return kExitFailure;
  }
  Result<store::Database> db = store::Database::Open(path);
  if (!db) {
    fmt::print(stderr, "portwatch record: {}\n", db.error().message);
    return kExitFailure;
  }
  db->SetBusyTimeout(
      std::min(std::chrono::milliseconds(*interval) / 4, std::chrono::milliseconds(250)));
  Result<store::HistoryWriter> writer = store::HistoryWriter::Create(*db);
  if (!writer) {
    fmt::print(stderr, "portwatch record: {}\n", writer.error().message);
    return kExitFailure;
  }

  std::signal(SIGINT, RequestStop);
  std::signal(SIGTERM, RequestStop);
  std::unique_ptr<collectors::Collector> collector = collectors::MakeCollector({});
  const auto started = std::chrono::steady_clock::now();
  const auto period = std::chrono::milliseconds(*interval);
  auto next = started;
  int64_t written = 0;
  int64_t failed = 0;
  spdlog::info("recording into {} every {}", path, flags.interval);
  while (!stop_requested.load()) {
    Result<collectors::Snapshot> snapshot = collector->Collect();
    if (!snapshot) {
      fmt::print(stderr, "portwatch record: {}\n", snapshot.error().message);
      return kExitFailure;
    }
    if (Result<store::WriteStats> stats = writer->Write(*snapshot); stats) {
      ++written;
      Prune(*db, retention);
      spdlog::debug("interval written: {} opened, {} closed, {} changed", stats->opened,
                    stats->closed, stats->changed);
    } else {
      ++failed;
    }
    next += period;
    const auto now = std::chrono::steady_clock::now();
    if (duration_ms && now - started + period > std::chrono::milliseconds(*duration_ms)) break;
    if (next < now) next = now;  // a slow interval delays the next one rather than bunching up
    while (!stop_requested.load() && std::chrono::steady_clock::now() < next) {
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
          next - std::chrono::steady_clock::now(), std::chrono::milliseconds(100)));
    }
  }
  std::uintmax_t size = 0;
  for (const std::string& file : {path, path + "-wal"}) {
    std::error_code missing;
    const std::uintmax_t bytes = std::filesystem::file_size(file, missing);
    if (!missing) size += bytes;
  }
  fmt::print(stderr, "portwatch record: {} intervals written to {} ({} KiB){}\n", written, path,
             size / 1024,
             failed > 0 ? fmt::format(", {} could not be written", failed) : std::string());
  return writer->behind() ? kExitFailure : kExitOk;
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
