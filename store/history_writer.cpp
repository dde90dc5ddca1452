#include "store/history_writer.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>
#include <unordered_map>

#include "collectors/snapshot_diff.h"
#include "store/address_blob.h"
#include "store/keyframe.h"
#include "store/sample.h"

namespace portwatch::store {

using namespace collectors;

namespace {

constexpr int kListenerAppeared = 1;
constexpr int kListenerDisappeared = 2;

std::optional<int64_t> NonZero(uint64_t value) {
  if (value == 0) return std::nullopt;
  return static_cast<int64_t>(value);
}

// The kernel's boot id (a UUID, new at every boot); empty when it cannot be read or is not one.
std::string ReadBootId(const std::string& proc_root) {
  std::ifstream file(proc_root + "/sys/kernel/random/boot_id");
  std::string id;
  if (!file || !std::getline(file, id)) return {};
  if (id.empty() || id.size() > 64) return {};
  for (const char c : id) {
    if (std::isxdigit(static_cast<unsigned char>(c)) == 0 && c != '-') return {};
  }
  return id;
}

}  // namespace

int64_t ToMillis(std::chrono::system_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

struct HistoryWriter::Statements {
  Statement insert_process;
  Statement insert_socket;
  Statement close_socket;
  Statement insert_change;
  Statement insert_listener_event;
  Statement insert_sample;
  Statement insert_keyframe;
  Statement select_open;
  Statement update_direction;
};

Result<HistoryWriter> HistoryWriter::Create(Database& db, WriterOptions options) {
  const auto prepare = [&db](std::string_view sql, std::optional<Statement>& out) -> bool {
    Result<Statement> statement = db.Prepare(sql);
    if (!statement) return false;
    out.emplace(std::move(statement).value());
    return true;
  };
  std::optional<Statement> statements[9];
  const char* sql[9] = {
      "INSERT INTO processes(pid, start_time, ppid, uid, name, exe, exe_deleted, cmdline, user, "
      "first_seen, boot_id, exe_device, exe_inode, exe_mtime_ns) VALUES(?1, ?2, ?3, ?4, ?5, ?6, "
      "?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) ON CONFLICT(pid, start_time, boot_id, exe_device, "
      "exe_inode, exe_mtime_ns) DO UPDATE SET exe = excluded.exe RETURNING id",
      "INSERT INTO sockets(opened_at, proto, family, state, local_addr, local_port, remote_addr, "
      "remote_port, cookie, inode, uid, netns, protocol_number, interface, v6only, direction, "
      "service_port, process_id, owner_count, owner_status) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
      "?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
      "UPDATE sockets SET closed_at = ?2 WHERE id = ?1",
      "INSERT OR IGNORE INTO state_changes(socket_id, at, state) VALUES(?1, ?2, ?3)",
      "INSERT INTO listener_events(at, kind, socket_id) VALUES(?1, ?2, ?3)",
      "INSERT OR REPLACE INTO samples(resolution, at, sockets, tcp, udp, raw, packet, listeners, "
      "established, time_wait, remote_hosts) VALUES(0, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
      "INSERT OR REPLACE INTO keyframes(at, socket_ids, last_socket_id) "
      "VALUES(?1, ?2, (SELECT COALESCE(max(id), 0) FROM sockets))",
      "SELECT s.id, s.cookie, s.proto, s.local_addr, s.local_port, s.remote_addr, s.remote_port, "
      "s.inode, s.protocol_number, s.direction = 1, COALESCE((SELECT c.state FROM state_changes c "
      "WHERE c.socket_id = s.id ORDER BY c.at DESC LIMIT 1), s.state), p.boot_id, p.pid, "
      "p.start_time, p.exe_device, p.exe_inode, p.exe_mtime_ns "
      "FROM sockets s LEFT JOIN processes p ON p.id = s.process_id WHERE s.closed_at IS NULL",
      "UPDATE sockets SET direction = ?2, service_port = ?3 WHERE id = ?1",
  };
  for (int i = 0; i < 9; ++i) {
    if (!prepare(sql[i], statements[i])) {
      return Error{fmt::format("cannot prepare the history writer for {}: {}", db.path(),
                               db.ErrorMessage())};
    }
  }
  if (Result<void> manual = db.Execute("PRAGMA wal_autocheckpoint = 0"); !manual) {
    return Error{fmt::format("cannot set up the history writer for {}: {}", db.path(),
                             manual.error().message)};
  }
  auto prepared = std::unique_ptr<Statements>(new Statements{
      std::move(*statements[0]), std::move(*statements[1]), std::move(*statements[2]),
      std::move(*statements[3]), std::move(*statements[4]), std::move(*statements[5]),
      std::move(*statements[6]), std::move(*statements[7]), std::move(*statements[8])});
  std::string boot_id = ReadBootId(options.proc_root);
  if (boot_id.empty() && std::filesystem::is_directory(options.proc_root)) {  // not on Windows
    spdlog::warn(
        "cannot read the boot id from {}/sys/kernel/random/boot_id: rows left open by "
        "another boot cannot be told from this boot's",
        options.proc_root);
  }
  return HistoryWriter(db, std::move(options), std::move(prepared), std::move(boot_id));
}

HistoryWriter::HistoryWriter(Database& db, WriterOptions options,
                             std::unique_ptr<Statements> statements, std::string boot_id)
    : db_(&db),
      options_(std::move(options)),
      statements_(std::move(statements)),
      boot_id_(std::move(boot_id)) {}

HistoryWriter::ProcessKey HistoryWriter::KeyOf(const Process& process) {
  return {process.pid, process.start_time, process.exe_device, process.exe_inode,
          process.exe_mtime_ns};
}

HistoryWriter::HistoryWriter(HistoryWriter&&) noexcept = default;
HistoryWriter& HistoryWriter::operator=(HistoryWriter&&) noexcept = default;
HistoryWriter::~HistoryWriter() = default;

Result<WriteStats> HistoryWriter::Write(const Snapshot& snapshot) {
  std::vector<int64_t> row_ids;
  auto processes = process_rows_;
  Result<WriteStats> written = [&]() -> Result<WriteStats> {
    Result<Transaction> transaction = Transaction::Begin(*db_);
    if (!transaction) return transaction.error();
    Result<WriteStats> stats = WriteInTransaction(snapshot, row_ids, processes);
    if (!stats) return stats.error();
    if (Result<void> committed = transaction->Commit(); !committed) return committed.error();
    return stats;
  }();
  if (!written) {
    if (!behind_) {
      spdlog::error(
          "cannot write history to {}: {}; collection goes on and writing resumes when "
          "it can",
          db_->path(), written.error().message);
    }
    behind_ = true;
    return written.error();
  }
  if (behind_) spdlog::warn("writing history to {} again", db_->path());
  behind_ = false;
  committed_ = snapshot;
  committed_rows_ = std::move(row_ids);
  // Remember only the processes still on the host: the map would otherwise grow with every
  // process that ever owned a socket.
  std::set<ProcessKey> present;
  for (const Process& process : snapshot.processes) present.insert(KeyOf(process));
  std::erase_if(processes,
                [&present](const auto& entry) { return !present.contains(entry.first); });
  process_rows_ = std::move(processes);
  if (written->keyframe) last_keyframe_ = ToMillis(snapshot.taken_at);
  return written;
}

Result<WriteStats> HistoryWriter::WriteInTransaction(const Snapshot& snapshot,
                                                     std::vector<int64_t>& row_ids,
                                                     ProcessRows& processes) {
  const int64_t now = ToMillis(snapshot.taken_at);
  WriteStats stats;
  row_ids.assign(snapshot.sockets.size(), 0);

  if (!committed_) {
    // 1a. First write since start: note the host's namespace (rows in it store NULL), then
    //     continue the database's open rows.
    if (Result<void> meta = db_->Execute(fmt::format(
            "INSERT OR REPLACE INTO meta(key, value) VALUES('netns', '{}')", snapshot.netns));
        !meta) {
      return meta.error();
    }
    if (Result<bool> other_boot = CloseRowsOfAnotherBoot(stats); !other_boot) {
      return other_boot.error();
    }
    Result<std::vector<int64_t>> adopted = AdoptOpenRows(snapshot, now, stats, processes);
    if (!adopted) return adopted.error();
    row_ids = std::move(adopted).value();
  } else {
    // 1b. Every later write: the diff against the last committed snapshot.
    const SnapshotDiff diff = DiffSnapshots(*committed_, snapshot);
    for (const auto& [before, after] : diff.kept) row_ids[after] = committed_rows_[before];
    // A socket whose owner is now another identity: its row ends here and a new one, owned by the
    // new identity, begins (in the socket's current state, so its state change is in the new row).
    std::vector<bool> reopened(snapshot.sockets.size(), false);
    for (const auto& [before, after] : diff.kept) {
      const Process* was = committed_->PrimaryOwner(committed_->sockets[before]);
      const Process* is = snapshot.PrimaryOwner(snapshot.sockets[after]);
      if (was == nullptr || is == nullptr || KeyOf(*was) == KeyOf(*is)) continue;
      const bool was_listener = committed_->sockets[before].direction == Direction::kListen;
      Result<int64_t> row = ReopenUnderNewOwner(snapshot, snapshot.sockets[after], row_ids[after],
                                                was_listener, now, processes);
      if (!row) return row.error();
      row_ids[after] = *row;
      reopened[after] = true;
      ++stats.owner_changed;
    }
    for (const uint32_t before : diff.closed) {
      const int64_t row = committed_rows_[before];
      if (Result<void> closed = statements_->close_socket.Bind(1, row).Bind(2, now).Run();
          !closed) {
        return closed.error();
      }
      if (committed_->sockets[before].direction == Direction::kListen) {
        if (Result<void> event = statements_->insert_listener_event.Bind(1, now)
                                     .Bind(2, int64_t{kListenerDisappeared})
                                     .Bind(3, row)
                                     .Run();
            !event) {
          return event.error();
        }
      }
    }
    stats.closed = diff.closed.size();
    for (const auto& [before, after] : diff.changed) {
      if (reopened[after]) continue;
      const Socket& socket = snapshot.sockets[after];
      if (Result<void> changed = statements_->insert_change.Bind(1, row_ids[after])
                                     .Bind(2, now)
                                     .Bind(3, static_cast<int64_t>(socket.state))
                                     .Run();
          !changed) {
        return changed.error();
      }
      const bool was_listener = committed_->sockets[before].direction == Direction::kListen;
      if (Result<void> noted = NoteListenerChange(row_ids[after], socket, was_listener, now);
          !noted) {
        return noted.error();
      }
    }

    stats.changed = diff.changed.size();
    for (const uint32_t after : diff.opened) {
      Result<int64_t> row = InsertSocket(snapshot, snapshot.sockets[after], now, processes);
      if (!row) return row.error();
      row_ids[after] = *row;
    }
    stats.opened = diff.opened.size();
  }

  // 2. The interval's sample.
  const Sample sample = CountSample(snapshot, now);
  if (Result<void> sampled = statements_->insert_sample.Bind(1, now)
                                 .Bind(2, sample.sockets)
                                 .Bind(3, sample.tcp)
                                 .Bind(4, sample.udp)
                                 .Bind(5, sample.raw)
                                 .Bind(6, sample.packet)
                                 .Bind(7, sample.listeners)
                                 .Bind(8, sample.established)
                                 .Bind(9, sample.time_wait)
                                 .Bind(10, sample.remote_hosts)
                                 .Run();
      !sampled) {
    return sampled.error();
  }

  // 3. A keyframe when one is due, and always on the first write after start.
  if (!committed_ || now - last_keyframe_ >= options_.keyframe_interval.count()) {
    std::vector<int64_t> ids = row_ids;
    std::sort(ids.begin(), ids.end());
    const std::vector<uint8_t> encoded = EncodeKeyframe(ids);
    if (Result<void> keyframe =
            statements_->insert_keyframe.Bind(1, now).BindBlob(2, encoded).Run();
        !keyframe) {
      return keyframe.error();
    }
    stats.keyframe = true;
  }
  return stats;
}

Result<void> HistoryWriter::NoteListenerChange(int64_t row, const Socket& socket, bool was_listener,
                                               int64_t now) {
  // A bound socket that starts listening (or a listener shut down but still open) is a listener
  // appearing (or disappearing) although the socket itself stays.
  const bool is_listener = socket.direction == Direction::kListen;
  if (is_listener == was_listener) return Ok();
  if (Result<void> event =
          statements_->insert_listener_event.Bind(1, now)
              .Bind(2, int64_t{is_listener ? kListenerAppeared : kListenerDisappeared})
              .Bind(3, row)
              .Run();
      !event) {
    return event.error();
  }
  return statements_->update_direction.Bind(1, row)
      .Bind(2, static_cast<int64_t>(socket.direction))
      .Bind(3, NonZero(socket.service_port))
      .Run();
}

Result<int64_t> HistoryWriter::ProcessRow(const Process& process, int64_t now,
                                          ProcessRows& processes) {
  const ProcessKey key = KeyOf(process);
  if (auto it = processes.find(key); it != processes.end()) return it->second;
  Statement& insert = statements_->insert_process;
  insert.Bind(1, int64_t{process.pid})
      .Bind(2, static_cast<int64_t>(process.start_time))
      .Bind(3, int64_t{process.ppid})
      .Bind(4, int64_t{process.uid})
      .Bind(5, process.name)
      .Bind(6, process.exe)
      .Bind(7, int64_t{process.exe_deleted ? 1 : 0})
      .Bind(8, process.cmdline)
      .Bind(9, process.user)
      .Bind(10, now)
      .Bind(11, boot_id_)
      .Bind(12, static_cast<int64_t>(process.exe_device))
      .Bind(13, static_cast<int64_t>(process.exe_inode))
      .Bind(14, process.exe_mtime_ns);
  Result<bool> row = insert.Step();
  if (!row || !*row) {
    insert.Reset();
    return Error{row ? "the process upsert returned no id" : row.error().message};
  }
  const int64_t id = insert.Int(0);
  insert.Reset();
  processes.emplace(key, id);
  return id;
}

Result<int64_t> HistoryWriter::InsertSocket(const Snapshot& snapshot, const Socket& socket,
                                            int64_t now, ProcessRows& processes,
                                            bool listener_event) {
  std::optional<int64_t> process_id;
  if (const Process* owner = snapshot.PrimaryOwner(socket)) {
    Result<int64_t> row = ProcessRow(*owner, now, processes);
    if (!row) return row.error();
    process_id = *row;
  }
  Statement& insert = statements_->insert_socket;
  insert.Bind(1, now)
      .Bind(2, static_cast<int64_t>(socket.protocol))
      .Bind(3, static_cast<int64_t>(socket.family))
      .Bind(4, static_cast<int64_t>(socket.state));
  if (socket.family != Family::kUnspec) {
    insert.BindBlob(5, AddressBlob(socket.local.address))
        .Bind(6, int64_t{socket.local.port})
        .BindBlob(7, AddressBlob(socket.remote.address))
        .Bind(8, int64_t{socket.remote.port});
  }
  // Zero and "same as the host" are stored as NULL, which SQLite stores in no bytes at all.
  insert.Bind(9, NonZero(socket.cookie))
      .Bind(10, NonZero(socket.inode))
      .Bind(11, int64_t{socket.uid})
      .Bind(12, socket.netns == snapshot.netns ? std::nullopt : NonZero(socket.netns))
      .Bind(13, NonZero(socket.protocol_number))
      .Bind(14, NonZero(socket.interface))
      .Bind(15, socket.v6only ? std::optional<int64_t>(1) : std::nullopt)
      .Bind(16, static_cast<int64_t>(socket.direction))
      .Bind(17, NonZero(socket.service_port))
      .Bind(18, process_id)
      .Bind(19, int64_t{socket.owner_count})
      .Bind(20, static_cast<int64_t>(socket.owner_status));
  if (Result<void> inserted = insert.Run(); !inserted) return inserted.error();
  const int64_t id = sqlite3_last_insert_rowid(db_->handle());
  if (listener_event && socket.direction == Direction::kListen) {
    if (Result<void> event = statements_->insert_listener_event.Bind(1, now)
                                 .Bind(2, int64_t{kListenerAppeared})
                                 .Bind(3, id)
                                 .Run();
        !event) {
      return event.error();
    }
  }
  return id;
}

Result<int64_t> HistoryWriter::ReopenUnderNewOwner(const Snapshot& snapshot, const Socket& socket,
                                                   int64_t row, bool was_listener, int64_t now,
                                                   ProcessRows& processes) {
  if (Result<void> closed = statements_->close_socket.Bind(1, row).Bind(2, now).Run(); !closed) {
    return closed.error();
  }
  const bool is_listener = socket.direction == Direction::kListen;
  if (was_listener && !is_listener) {
    if (Result<void> event = statements_->insert_listener_event.Bind(1, now)
                                 .Bind(2, int64_t{kListenerDisappeared})
                                 .Bind(3, row)
                                 .Run();
        !event) {
      return event.error();
    }
  }
  return InsertSocket(snapshot, socket, now, processes, /*listener_event=*/!was_listener);
}

Result<bool> HistoryWriter::CloseRowsOfAnotherBoot(WriteStats& stats) {
  if (boot_id_.empty()) return false;
  std::optional<std::string> stored;
  {
    Result<Statement> select = db_->Prepare("SELECT value FROM meta WHERE key = 'boot_id'");
    if (!select) return select.error();
    Result<bool> row = select->Step();
    if (!row) return row.error();
    if (*row) stored = select->Text(0);
  }
  {
    Result<Statement> remember =
        db_->Prepare("INSERT OR REPLACE INTO meta(key, value) VALUES('boot_id', ?1)");
    if (!remember) return remember.error();
    if (Result<void> written = remember->Bind(1, boot_id_).Run(); !written) return written.error();
  }
  if (!stored || stored->empty() || *stored == boot_id_) return false;

  // The sockets died with that boot, at the latest when it last recorded an interval.
  Result<Statement> last = db_->Prepare(
      "SELECT COALESCE((SELECT max(at) FROM samples), (SELECT max(opened_at) FROM sockets), 0)");
  if (!last) return last.error();
  Result<bool> has_last = last->Step();
  if (!has_last) return has_last.error();
  const int64_t ended = *has_last ? last->Int(0) : 0;
  Result<Statement> events = db_->Prepare(
      "INSERT INTO listener_events(at, kind, socket_id) SELECT max(opened_at, ?1), 2, id "
      "FROM sockets WHERE closed_at IS NULL AND direction = 1");
  if (!events) return events.error();
  if (Result<void> noted = events->Bind(1, ended).Run(); !noted) return noted.error();
  Result<Statement> close =
      db_->Prepare("UPDATE sockets SET closed_at = max(opened_at, ?1) WHERE closed_at IS NULL");
  if (!close) return close.error();
  if (Result<void> closed = close->Bind(1, ended).Run(); !closed) return closed.error();
  const auto count = static_cast<size_t>(sqlite3_changes(db_->handle()));
  stats.closed += count;
  spdlog::info(
      "{} was last written in another boot ({}): its {} open sockets are closed as of its last "
      "interval, none is carried into this boot ({})",
      db_->path(), *stored, count, boot_id_);
  return true;
}

Result<std::vector<int64_t>> HistoryWriter::AdoptOpenRows(const Snapshot& snapshot, int64_t now,
                                                          WriteStats& stats,
                                                          ProcessRows& processes) {
  struct OpenRow {
    int64_t id;
    SocketState state;
    bool listener;
    std::optional<ProcessKey> owner;  // the row's owner, when it was stored in this boot
    bool matched = false;
  };
  // Every open row, by identity; a socket listed twice has two rows under one identity.
  std::vector<OpenRow> open_rows;
  std::unordered_multimap<uint64_t, size_t> by_identity;
  Statement& select = statements_->select_open;
  for (;;) {
    Result<bool> row = select.Step();
    if (!row) {
      select.Reset();
      return row.error();
    }
    if (!*row) break;
    Socket stored;
    stored.cookie = select.IsNull(1) ? 0 : static_cast<uint64_t>(select.Int(1));
    stored.protocol = static_cast<Protocol>(select.Int(2));
    stored.local = {AddressFromBlob(select.Blob(3)), static_cast<uint16_t>(select.Int(4))};
    stored.remote = {AddressFromBlob(select.Blob(5)), static_cast<uint16_t>(select.Int(6))};
    stored.inode = static_cast<uint64_t>(select.Int(7));
    stored.protocol_number = static_cast<uint16_t>(select.Int(8));
    by_identity.emplace(SocketIdentity(stored), open_rows.size());
    std::optional<ProcessKey> owner;
    if (!select.IsNull(12) && !boot_id_.empty() && select.Text(11) == boot_id_) {
      owner =
          ProcessKey{static_cast<int32_t>(select.Int(12)), static_cast<uint64_t>(select.Int(13)),
                     static_cast<uint64_t>(select.Int(14)), static_cast<uint64_t>(select.Int(15)),
                     select.Int(16)};
    }
    open_rows.push_back(OpenRow{select.Int(0), static_cast<SocketState>(select.Int(10)),
                                select.Int(9) != 0, owner});
  }
  select.Reset();

  std::vector<int64_t> row_ids(snapshot.sockets.size(), 0);
  for (uint32_t i = 0; i < snapshot.sockets.size(); ++i) {
    const Socket& socket = snapshot.sockets[i];
    OpenRow* match = nullptr;
    auto [begin, end] = by_identity.equal_range(SocketIdentity(socket));
    for (auto it = begin; it != end && match == nullptr; ++it) {
      if (!open_rows[it->second].matched) match = &open_rows[it->second];
    }
    if (match != nullptr) {
      match->matched = true;
      row_ids[i] = match->id;
      // The owner execed (or the socket changed hands) while nobody watched.
      const Process* owner = snapshot.PrimaryOwner(socket);
      if (match->owner && owner != nullptr && *match->owner != KeyOf(*owner)) {
        Result<int64_t> row =
            ReopenUnderNewOwner(snapshot, socket, match->id, match->listener, now, processes);
        if (!row) return row.error();
        row_ids[i] = *row;
        ++stats.owner_changed;
        continue;
      }
      if (match->state != socket.state) {
        if (Result<void> changed = statements_->insert_change.Bind(1, match->id)
                                       .Bind(2, now)
                                       .Bind(3, static_cast<int64_t>(socket.state))
                                       .Run();
            !changed) {
          return changed.error();
        }
        ++stats.changed;
      }
      if (Result<void> noted = NoteListenerChange(match->id, socket, match->listener, now);
          !noted) {
        return noted.error();
      }
      continue;
    }
    Result<int64_t> row = InsertSocket(snapshot, socket, now, processes);
    if (!row) return row.error();
    row_ids[i] = *row;
    ++stats.opened;
  }
  // Rows still open in the database but gone from the host closed while nobody watched.
  for (const OpenRow& row : open_rows) {
    if (row.matched) continue;
    if (Result<void> closed = statements_->close_socket.Bind(1, row.id).Bind(2, now).Run();
        !closed) {
      return closed.error();
    }
    if (row.listener) {
      if (Result<void> event = statements_->insert_listener_event.Bind(1, now)
                                   .Bind(2, int64_t{kListenerDisappeared})
                                   .Bind(3, row.id)
                                   .Run();
          !event) {
        return event.error();
      }
    }
    ++stats.closed;
  }
  return row_ids;
}

}  // namespace portwatch::store
