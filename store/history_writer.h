// HistoryWriter: records what changed between snapshots, one transaction per interval.
//
// Write(snapshot) diffs the snapshot against the last one it committed — not the last one it was
// given — so an interval that could not be written (disk full, database locked) is folded into
// the next one that can: nothing committed is lost and no change is recorded twice. A socket that
// stays open costs nothing. On the first write after a restart, sockets the database still holds
// open are matched to the live ones (same cookie) and the rest are closed.
//
// The writer turns off SQLite's automatic checkpoint on its connection (it would run inside
// whichever commit crossed the threshold): call Database::Checkpoint between intervals.
//
// Not thread-safe: one writer per database, on one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "collectors/snapshot.h"
#include "store/database.h"

namespace portwatch::store {

struct WriterOptions {
  // How often the set of open sockets is written out whole, bounding point-in-time queries.
  std::chrono::milliseconds keyframe_interval{std::chrono::minutes(10)};
};

struct WriteStats {
  size_t opened = 0;
  size_t closed = 0;
  size_t changed = 0;
  bool keyframe = false;
};

class HistoryWriter {
 public:
  static Result<HistoryWriter> Create(Database& db, WriterOptions options = {});

  HistoryWriter(HistoryWriter&&) noexcept;
  HistoryWriter& operator=(HistoryWriter&&) noexcept;
  ~HistoryWriter();

  Result<WriteStats> Write(const collectors::Snapshot& snapshot);

  // Whether the last Write failed; the next one retries with everything since the last commit.
  bool behind() const { return behind_; }

  // Retention deleted process rows (PruneStats::processes_deleted): forget the row ids this
  // writer remembers, so it stores a process again the next time one of its sockets opens.
  void ForgetProcesses() { process_rows_.clear(); }

 private:
  struct Statements;
  HistoryWriter(Database& db, WriterOptions options, std::unique_ptr<Statements> statements);

  Result<WriteStats> WriteInTransaction(const collectors::Snapshot& snapshot,
                                        std::vector<int64_t>& row_ids,
                                        std::map<std::pair<int32_t, uint64_t>, int64_t>& processes);
  Result<void> NoteListenerChange(int64_t row, const collectors::Socket& socket, bool was_listener,
                                  int64_t now);
  Result<int64_t> ProcessRow(const collectors::Process& process, int64_t now,
                             std::map<std::pair<int32_t, uint64_t>, int64_t>& processes);
  Result<int64_t> InsertSocket(const collectors::Snapshot& snapshot,
                               const collectors::Socket& socket, int64_t now,
                               std::map<std::pair<int32_t, uint64_t>, int64_t>& processes);
  // After a restart: the database's open rows, matched against the first snapshot.
  Result<std::vector<int64_t>> AdoptOpenRows(
      const collectors::Snapshot& snapshot, int64_t now, WriteStats& stats,
      std::map<std::pair<int32_t, uint64_t>, int64_t>& processes);

  Database* db_;
  WriterOptions options_;
  std::unique_ptr<Statements> statements_;
  // The last committed snapshot and the database row of each of its sockets.
  std::optional<collectors::Snapshot> committed_;
  std::vector<int64_t> committed_rows_;
  // (pid, start time) -> processes.id, for processes already committed.
  std::map<std::pair<int32_t, uint64_t>, int64_t> process_rows_;
  int64_t last_keyframe_ = 0;
  bool behind_ = false;
};

// Milliseconds since the Unix epoch, the unit of every time in the database.
int64_t ToMillis(std::chrono::system_clock::time_point time);

}  // namespace portwatch::store
