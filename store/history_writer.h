// HistoryWriter: records what changed between snapshots, one transaction per interval.
//
// Write(snapshot) diffs the snapshot against the last one it committed — not the last one it was
// given — so an interval that could not be written (disk full, database locked) is folded into
// the next one that can: nothing committed is lost and no change is recorded twice. A socket that
// stays open costs nothing. On the first write after a restart, sockets the database still holds
// open are matched to the live ones (same cookie) and the rest are closed.
//
// Identity. A process row is one (pid, start time, boot id, executable's device, inode and mtime):
// an execve under the same pid is a new process row, and a pid and start time of another boot
// never match this boot's. A socket whose primary owner becomes another identity (an exec, or the
// socket passed to another process) has its row closed and a new row opened, owned by the new
// identity, at the same moment (no listener event: the listener did not go away). So every row
// has one owner for its whole lifetime, and "who owned it at T" (StateAt, PortHistory) is the
// row open at T. The database keeps the boot id it was written in (meta 'boot_id'); when the
// first write of a run finds another boot's id there, every row still open is closed at the
// last recorded sample (the sockets died with that boot) and none is adopted: cookies and inodes
// start over at boot, so a match would be a stranger.
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
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "collectors/snapshot.h"
#include "store/database.h"

namespace portwatch::store {

struct WriterOptions {
  // How often the set of open sockets is written out whole, bounding point-in-time queries.
  std::chrono::milliseconds keyframe_interval{std::chrono::minutes(10)};
  // Where the boot id is read (<proc_root>/sys/kernel/random/boot_id), once, by Create. When it
  // cannot be read the boot is unknown: rows are adopted as they are, and the stored id is kept.
  std::string proc_root = "/proc";
};

struct WriteStats {
  size_t opened = 0;
  size_t closed = 0;
  size_t changed = 0;
  size_t owner_changed = 0;  // sockets whose row was closed and reopened under a new owner
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

  // The boot id read at Create; empty when it could not be read.
  const std::string& boot_id() const { return boot_id_; }

 private:
  struct Statements;
  // A process identity within this writer's boot: pid, start time, executable device, inode, mtime.
  using ProcessKey = std::tuple<int32_t, uint64_t, uint64_t, uint64_t, int64_t>;
  using ProcessRows = std::map<ProcessKey, int64_t>;
  static ProcessKey KeyOf(const collectors::Process& process);

  HistoryWriter(Database& db, WriterOptions options, std::unique_ptr<Statements> statements,
                std::string boot_id);

  Result<WriteStats> WriteInTransaction(const collectors::Snapshot& snapshot,
                                        std::vector<int64_t>& row_ids, ProcessRows& processes);
  Result<void> NoteListenerChange(int64_t row, const collectors::Socket& socket, bool was_listener,
                                  int64_t now);
  Result<int64_t> ProcessRow(const collectors::Process& process, int64_t now,
                             ProcessRows& processes);
  // listener_event: whether a listener's row opening is a listener appearing (not when the row
  // only continues a socket under a new owner).
  Result<int64_t> InsertSocket(const collectors::Snapshot& snapshot,
                               const collectors::Socket& socket, int64_t now,
                               ProcessRows& processes, bool listener_event = true);
  // Closes row (of a socket whose primary owner is now another identity) and opens the socket's
  // new row; returns its id.
  Result<int64_t> ReopenUnderNewOwner(const collectors::Snapshot& snapshot,
                                      const collectors::Socket& socket, int64_t row,
                                      bool was_listener, int64_t now, ProcessRows& processes);
  // After a restart: the database's open rows, matched against the first snapshot.
  Result<std::vector<int64_t>> AdoptOpenRows(const collectors::Snapshot& snapshot, int64_t now,
                                             WriteStats& stats, ProcessRows& processes);
  // On the first write: whether the database was last written in another boot, and if so closes
  // its open rows at the last recorded moment. Records this boot's id either way.
  Result<bool> CloseRowsOfAnotherBoot(WriteStats& stats);

  Database* db_;
  WriterOptions options_;
  std::unique_ptr<Statements> statements_;
  // The last committed snapshot and the database row of each of its sockets.
  std::optional<collectors::Snapshot> committed_;
  std::vector<int64_t> committed_rows_;
  // Process identity -> processes.id, for processes already committed.
  ProcessRows process_rows_;
  std::string boot_id_;
  int64_t last_keyframe_ = 0;
  bool behind_ = false;
};

// Milliseconds since the Unix epoch, the unit of every time in the database.
int64_t ToMillis(std::chrono::system_clock::time_point time);

}  // namespace portwatch::store
