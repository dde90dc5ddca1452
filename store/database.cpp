#include "store/database.h"

#include <fmt/format.h>

#include <filesystem>
#include <iterator>

namespace portwatch::store {

namespace {

// 'PWCH': marks a SQLite file as portwatch's, so a foreign database is never migrated.
constexpr int64_t kApplicationId = 0x50574348;

// Forward migrations; entry N takes the schema from version N to N + 1.
constexpr std::string_view kMigrations[] = {
    R"sql(
CREATE TABLE meta(
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

-- A process, stored once per (pid, start time): a pid alone is reused.
CREATE TABLE processes(
  id INTEGER PRIMARY KEY,
  pid INTEGER NOT NULL,
  start_time INTEGER NOT NULL,
  ppid INTEGER,
  uid INTEGER,
  name TEXT,
  exe TEXT,
  exe_deleted INTEGER NOT NULL DEFAULT 0,
  cmdline TEXT,
  user TEXT,
  first_seen INTEGER NOT NULL,
  UNIQUE(pid, start_time)
);

-- One row per socket lifetime: written when it opens, closed_at set when it closes. Times are
-- Unix milliseconds. Addresses are 4 or 16 bytes in network order, so byte order is address
-- order and a CIDR is a BETWEEN range.
CREATE TABLE sockets(
  id INTEGER PRIMARY KEY,
  opened_at INTEGER NOT NULL,
  closed_at INTEGER,
  proto INTEGER NOT NULL,
  family INTEGER NOT NULL,
  state INTEGER NOT NULL,
  local_addr BLOB,
  local_port INTEGER,
  remote_addr BLOB,
  remote_port INTEGER,
  cookie INTEGER,
  inode INTEGER,
  uid INTEGER,
  netns INTEGER,
  protocol_number INTEGER,
  interface INTEGER,
  v6only INTEGER,
  direction INTEGER NOT NULL,  -- collectors::Direction; 1 = listen
  service_port INTEGER,
  process_id INTEGER REFERENCES processes(id),
  owner_count INTEGER NOT NULL DEFAULT 0,
  owner_status INTEGER NOT NULL
);
CREATE INDEX sockets_opened ON sockets(opened_at);
CREATE INDEX sockets_closed ON sockets(closed_at) WHERE closed_at IS NOT NULL;
CREATE INDEX sockets_remote ON sockets(remote_addr) WHERE remote_port != 0;
CREATE INDEX sockets_local_port ON sockets(local_port);
CREATE INDEX sockets_remote_port ON sockets(remote_port) WHERE remote_port != 0;
CREATE INDEX sockets_process ON sockets(process_id) WHERE process_id IS NOT NULL;

-- Every state change after the one a socket opened in.
CREATE TABLE state_changes(
  socket_id INTEGER NOT NULL REFERENCES sockets(id) ON DELETE CASCADE,
  at INTEGER NOT NULL,
  state INTEGER NOT NULL,
  PRIMARY KEY(socket_id, at, state)
) WITHOUT ROWID;

-- The ids of every socket open at a moment, so "what was open at T" reads one keyframe and the
-- changes after it instead of the whole history. ids: sorted, delta-encoded varints.
CREATE TABLE keyframes(
  at INTEGER PRIMARY KEY,
  socket_ids BLOB NOT NULL
);

CREATE TABLE listener_events(
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  kind INTEGER NOT NULL,  -- 1 appeared, 2 disappeared
  socket_id INTEGER NOT NULL REFERENCES sockets(id) ON DELETE CASCADE
);
CREATE INDEX listener_events_at ON listener_events(at);

-- Aggregate counts per interval (resolution 0) and downsampled as they age (resolution in ms).
CREATE TABLE samples(
  resolution INTEGER NOT NULL,
  at INTEGER NOT NULL,
  sockets INTEGER NOT NULL,
  tcp INTEGER NOT NULL,
  udp INTEGER NOT NULL,
  raw INTEGER NOT NULL,
  packet INTEGER NOT NULL,
  listeners INTEGER NOT NULL,
  established INTEGER NOT NULL,
  time_wait INTEGER NOT NULL,
  remote_hosts INTEGER NOT NULL,
  PRIMARY KEY(resolution, at)
) WITHOUT ROWID;
)sql",
    // Socket rows are found by time through keyframes instead of two time indexes, which cost a
    // fifth of every lifetime's bytes: row ids are handed out in time order (retention never
    // deletes the newest row, so SQLite never hands out an id again), and a keyframe records the
    // highest id at its moment. Keyframes from schema 1 say 0: "unknown".
    R"sql(
DROP INDEX sockets_opened;
DROP INDEX sockets_closed;
ALTER TABLE keyframes ADD COLUMN last_socket_id INTEGER NOT NULL DEFAULT 0;
)sql",
    R"sql(
-- An alert: the findings of one or more rules about one subject (a key without pids, such as
-- "listener tcp/31337 exposure=all program=/tmp/nc user=root"). While active, repeats bump count
-- and last_seen; it resolves when no rule finds it any more, and reopens (count bumped) when it
-- comes back soon after. Times are Unix milliseconds; evidence is the socket JSON of
-- `portwatch snapshot --json`.
CREATE TABLE alerts(
  id INTEGER PRIMARY KEY,
  fingerprint TEXT NOT NULL,
  subject TEXT NOT NULL,
  kind INTEGER NOT NULL,      -- rules::SubjectKind
  severity INTEGER NOT NULL,  -- rules::Severity, the highest of its reasons
  status INTEGER NOT NULL,    -- 1 open, 2 acknowledged, 3 resolved
  title TEXT NOT NULL,
  reasons TEXT NOT NULL,      -- JSON array of {rule, severity, mitre, reason}
  count INTEGER NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  resolved_at INTEGER,
  silenced_until INTEGER,
  accepted INTEGER NOT NULL DEFAULT 0,
  first_evidence TEXT NOT NULL,
  last_evidence TEXT NOT NULL
);
CREATE INDEX alerts_fingerprint ON alerts(fingerprint, id);
CREATE INDEX alerts_last_seen ON alerts(last_seen);

-- What happened to each alert, in order: what notifications are made from.
CREATE TABLE alert_events(
  id INTEGER PRIMARY KEY,
  alert_id INTEGER NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
  at INTEGER NOT NULL,
  kind INTEGER NOT NULL,  -- store::AlertEventKind
  detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX alert_events_alert ON alert_events(alert_id);

-- Subjects an operator accepted: never alerted on again.
CREATE TABLE accepted_subjects(
  subject TEXT PRIMARY KEY,
  accepted_at INTEGER NOT NULL,
  alert_id INTEGER
) WITHOUT ROWID;
)sql",
    R"sql(
-- The notification outbox: one row per (alert event, target), written in the alert's own
-- transaction, so an event is never stored without being queued. A worker sends the pending rows
-- and records each attempt; a row that cannot be delivered ends failed with the reason, never
-- deleted unseen. Times are Unix milliseconds.
CREATE TABLE deliveries(
  id INTEGER PRIMARY KEY,
  event_id INTEGER NOT NULL REFERENCES alert_events(id) ON DELETE CASCADE,
  target TEXT NOT NULL,           -- the target's name in the config
  status INTEGER NOT NULL,        -- 1 pending, 2 delivered, 3 failed
  created_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_attempt_at INTEGER,
  response_code INTEGER,          -- the receiver's last HTTP status; NULL when none came
  last_error TEXT NOT NULL DEFAULT '',
  UNIQUE(event_id, target)
);
CREATE INDEX deliveries_pending ON deliveries(next_attempt_at) WHERE status = 1;
)sql",
    // A process is what runs under a pid, not the pid: an execve keeps pid and start time but is
    // a new identity (the executable's device, inode and mtime), and a reboot starts pids and
    // start times over (the boot id). Rows from before say '' and 0: unknown. The table is
    // rebuilt to change its unique key (SQLite's way: new table, copy, drop, rename; Migrate
    // runs migrations with foreign keys off and checks them before each commit).
    R"sql(
CREATE TABLE processes_new(
  id INTEGER PRIMARY KEY,
  pid INTEGER NOT NULL,
  start_time INTEGER NOT NULL,
  boot_id TEXT NOT NULL DEFAULT '',
  exe_device INTEGER NOT NULL DEFAULT 0,
  exe_inode INTEGER NOT NULL DEFAULT 0,
  exe_mtime_ns INTEGER NOT NULL DEFAULT 0,
  ppid INTEGER,
  uid INTEGER,
  name TEXT,
  exe TEXT,
  exe_deleted INTEGER NOT NULL DEFAULT 0,
  cmdline TEXT,
  user TEXT,
  first_seen INTEGER NOT NULL,
  UNIQUE(pid, start_time, boot_id, exe_device, exe_inode, exe_mtime_ns)
);
INSERT INTO processes_new(id, pid, start_time, ppid, uid, name, exe, exe_deleted, cmdline, user,
                          first_seen)
  SELECT id, pid, start_time, ppid, uid, name, exe, exe_deleted, cmdline, user, first_seen
  FROM processes;
DROP TABLE processes;
ALTER TABLE processes_new RENAME TO processes;
)sql",
    R"sql(
-- What an operator accepted, per (subject, rule), with the severity and the executable as they
-- were then: a new rule, a higher severity or another executable on the subject alerts again.
-- An empty exe, or a zero device and inode, is not compared (unknown when accepted). Accepted
-- subjects of before migrate as accepting every rule in their alert's reasons, at its severity.
CREATE TABLE acceptances(
  id INTEGER PRIMARY KEY,
  subject TEXT NOT NULL,
  rule TEXT NOT NULL,
  severity INTEGER NOT NULL,
  exe TEXT NOT NULL DEFAULT '',
  exe_device INTEGER NOT NULL DEFAULT 0,
  exe_inode INTEGER NOT NULL DEFAULT 0,
  exe_mtime_ns INTEGER NOT NULL DEFAULT 0,
  accepted_at INTEGER NOT NULL,
  alert_id INTEGER REFERENCES alerts(id) ON DELETE SET NULL,
  UNIQUE(subject, rule)
);
INSERT OR IGNORE INTO acceptances(subject, rule, severity, accepted_at, alert_id)
  SELECT s.subject, json_extract(r.value, '$.rule'), a.severity, s.accepted_at, a.id
  FROM accepted_subjects s JOIN alerts a ON a.id = s.alert_id, json_each(a.reasons) r
  WHERE json_valid(a.reasons) AND json_extract(r.value, '$.rule') IS NOT NULL;
DROP TABLE accepted_subjects;
)sql",
};
static_assert(std::size(kMigrations) == Database::kSchemaVersion,
              "one migration per schema version");

std::string SqliteMessage(sqlite3* db, int code) {
  const char* message = db ? sqlite3_errmsg(db) : sqlite3_errstr(code);
  return message ? message : sqlite3_errstr(code);
}

}  // namespace

Database::~Database() = default;

void Database::SetBusyTimeout(std::chrono::milliseconds timeout) {
  sqlite3_busy_timeout(db_.get(), static_cast<int>(timeout.count()));
}

Result<void> Database::Checkpoint() {
  const int code =
      sqlite3_wal_checkpoint_v2(db_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  if (code != SQLITE_OK && code != SQLITE_BUSY) {
    return Error{fmt::format("cannot checkpoint {}: {}", path_, SqliteMessage(db_.get(), code))};
  }
  return Ok();
}

std::string Database::ErrorMessage() const { return SqliteMessage(db_.get(), SQLITE_ERROR); }

Result<Database> Database::Open(const std::string& path, Mode mode) {
  if (mode == Mode::kReadOnly && !std::filesystem::exists(path)) {
    return Error{
        fmt::format("no database at {}: record one first (portwatch record --db {})", path, path)};
  }
  sqlite3* raw = nullptr;
  const int flags = (mode == Mode::kReadOnly ? SQLITE_OPEN_READONLY
                                             : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                    SQLITE_OPEN_NOMUTEX;
  const int opened = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Database db(raw, path);
  if (opened != SQLITE_OK) {
    return Error{fmt::format("cannot open database {}: {}", path, SqliteMessage(raw, opened))};
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, 5000);
  // Until the file is known to be ours, closing must not checkpoint another program's pending
  // write-ahead log into it.
  sqlite3_db_config(raw, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  if (mode == Mode::kReadWrite && sqlite3_db_readonly(raw, "main") == 1) {
    return Error{fmt::format(
        "{} is read-only (the file or its file system); portwatch cannot record into it: choose "
        "another --db",
        path)};
  }
  if (Result<void> migrated = db.Migrate(mode); !migrated) return migrated.error();
  sqlite3_db_config(raw, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, nullptr);
  return db;
}

Result<void> Database::Migrate(Mode mode) {
  // 1. Is this our file? Reading the header is the first thing that fails on a foreign file.
  Result<Statement> header = Prepare(
      "SELECT (SELECT application_id FROM pragma_application_id),"
      "       (SELECT user_version FROM pragma_user_version),"
      "       (SELECT count(*) FROM sqlite_schema)");
  // Only SQLITE_NOTADB means a foreign file; anything else (a lock, an unreadable directory)
  // is said as it is.
  const auto unreadable = [this](const std::string& detail) {
    if ((sqlite3_errcode(db_.get()) & 0xff) == SQLITE_NOTADB) {
      return Error{fmt::format(
          "{} is not a portwatch database ({}); portwatch leaves it untouched: move it away or "
          "choose another --db",
          path_, detail)};
    }
    return Error{fmt::format("cannot read {}: {}", path_, detail)};
  };
  if (!header) return unreadable(header.error().message);
  Result<bool> row = header->Step();
  if (!row) return unreadable(row.error().message);
  if (!*row) return unreadable("empty header");
  const int64_t application_id = header->Int(0);
  const int64_t version = header->Int(1);
  const int64_t objects = header->Int(2);
  header->Reset();
  const bool fresh = application_id == 0 && version == 0 && objects == 0;
  if (!fresh && application_id != kApplicationId) {
    return Error{fmt::format(
        "{} belongs to another program (a SQLite database without portwatch's application id); "
        "portwatch leaves it untouched: choose another --db",
        path_)};
  }
  if (version > kSchemaVersion) {
    return Error{fmt::format(
        "{} was written by a newer portwatch (schema {}, this version knows up to {}); upgrade "
        "portwatch to read it",
        path_, version, kSchemaVersion)};
  }

  // 2. Pragmas, then the migrations this file lacks, each in its own transaction.
  if (mode == Mode::kReadOnly) {
    if (fresh) return Error{fmt::format("{} is empty: record into it first", path_)};
    if (version < kSchemaVersion) {
      return Error{fmt::format(
          "{} has an older schema ({}); open it once read-write (portwatch record) to upgrade",
          path_, version)};
    }
    return Execute("PRAGMA foreign_keys = ON;");
  }
  if (fresh) {
    // Must come before anything writes the first page (WAL mode does): lets retention hand
    // freed pages back to the file system.
    if (Result<void> vacuum = Execute("PRAGMA auto_vacuum = INCREMENTAL;"); !vacuum) {
      return vacuum.error();
    }
  }
  // Foreign keys stay off while migrating (a migration may rebuild a table others refer to, and
  // the pragma cannot change inside a transaction); each migration is checked before it commits.
  if (Result<void> pragmas = Execute(
          "PRAGMA journal_mode = WAL;"
          "PRAGMA synchronous = NORMAL;"  // in WAL mode: durable across a crash of this process
          "PRAGMA foreign_keys = OFF;"
          "PRAGMA journal_size_limit = 67108864;");
      !pragmas) {
    return Error{fmt::format("cannot set up {}: {}", path_, pragmas.error().message)};
  }
  for (int64_t step = version; step < kSchemaVersion; ++step) {
    Result<Transaction> transaction = Transaction::Begin(*this);
    if (!transaction) return transaction.error();
    if (Result<void> applied = Execute(kMigrations[step]); !applied) {
      return Error{fmt::format("cannot upgrade {} to schema {}: {}", path_, step + 1,
                               applied.error().message)};
    }
    Result<Statement> check = Prepare("PRAGMA foreign_key_check");
    if (!check) return check.error();
    Result<bool> violation = check->Step();
    if (!violation) return violation.error();
    if (*violation) {
      return Error{
          fmt::format("cannot upgrade {} to schema {}: a row of {} refers to a missing "
                      "row of {}",
                      path_, step + 1, check->Text(0), check->Text(2))};
    }
    check->Reset();
    if (Result<void> stamped = Execute(fmt::format(
            "PRAGMA application_id = {}; PRAGMA user_version = {};", kApplicationId, step + 1));
        !stamped) {
      return stamped.error();
    }
    if (Result<void> committed = transaction->Commit(); !committed) return committed.error();
  }
  return Execute("PRAGMA foreign_keys = ON;");
}

Result<void> Database::Execute(std::string_view sql) {
  char* message = nullptr;
  const int code = sqlite3_exec(db_.get(), std::string(sql).c_str(), nullptr, nullptr, &message);
  if (code != SQLITE_OK) {
    std::string text = message ? message : SqliteMessage(db_.get(), code);
    sqlite3_free(message);
    return Error{text};
  }
  return Ok();
}

Result<Statement> Database::Prepare(std::string_view sql) {
  sqlite3_stmt* statement = nullptr;
  const int code = sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &statement, nullptr);
  if (code != SQLITE_OK) return Error{SqliteMessage(db_.get(), code)};
  return Statement(statement, db_.get());
}

Statement& Statement::Bind(int index, int64_t value) {
  sqlite3_bind_int64(statement_.get(), index, value);
  return *this;
}

Statement& Statement::Bind(int index, std::string_view text) {
  sqlite3_bind_text(statement_.get(), index, text.data(), static_cast<int>(text.size()),
                    SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::BindBlob(int index, std::span<const uint8_t> bytes) {
  // An empty span has no data pointer, which SQLite would bind as NULL: bind an empty blob.
  if (bytes.empty()) {
    sqlite3_bind_zeroblob(statement_.get(), index, 0);
    return *this;
  }
  sqlite3_bind_blob(statement_.get(), index, bytes.data(), static_cast<int>(bytes.size()),
                    SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::BindNull(int index) {
  sqlite3_bind_null(statement_.get(), index);
  return *this;
}

Result<bool> Statement::Step() {
  const int code = sqlite3_step(statement_.get());
  if (code == SQLITE_ROW) return true;
  if (code == SQLITE_DONE) return false;
  return Error{SqliteMessage(db_, code)};
}

Result<void> Statement::Run() {
  Result<bool> stepped = Step();
  Reset();
  if (!stepped) return stepped.error();
  return Ok();
}

void Statement::Reset() {
  sqlite3_reset(statement_.get());
  sqlite3_clear_bindings(statement_.get());
}

std::string Statement::Text(int column) const {
  const auto* text = sqlite3_column_text(statement_.get(), column);
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<size_t>(sqlite3_column_bytes(statement_.get(), column)));
}

std::span<const uint8_t> Statement::Blob(int column) const {
  const auto* data = static_cast<const uint8_t*>(sqlite3_column_blob(statement_.get(), column));
  const int size = sqlite3_column_bytes(statement_.get(), column);
  if (data == nullptr || size <= 0) return {};
  return {data, static_cast<size_t>(size)};
}

Result<Transaction> Transaction::Begin(Database& db) {
  if (Result<void> begun = db.Execute("BEGIN IMMEDIATE"); !begun) {
    return Error{
        fmt::format("cannot start a transaction on {}: {}", db.path(), begun.error().message)};
  }
  return Transaction(db);
}

Transaction::Transaction(Transaction&& other) noexcept
    : db_(other.db_), open_(std::exchange(other.open_, false)) {}

Transaction::~Transaction() {
  if (open_) (void)db_->Execute("ROLLBACK");
}

Result<void> Transaction::Commit() {
  open_ = false;
  if (Result<void> committed = db_->Execute("COMMIT"); !committed) {
    (void)db_->Execute("ROLLBACK");
    return Error{fmt::format("cannot commit to {}: {}", db_->path(), committed.error().message)};
  }
  return Ok();
}

}  // namespace portwatch::store
