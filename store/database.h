// Database and Statement: RAII over sqlite3 handles, with errors as values.
//
// Database::Open applies portwatch's pragmas (WAL, foreign keys, busy timeout), checks that the
// file is a portwatch database (application_id) and runs forward migrations. It never deletes or
// overwrites a file it does not recognise. A Database is not thread-safe: give each thread its
// own (SQLite in WAL mode lets one writer and many readers work side by side).
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "collectors/result.h"

namespace portwatch::store {

class Statement;

class Database {
 public:
  enum class Mode { kReadWrite, kReadOnly };
  static constexpr int64_t kSchemaVersion = 6;

  // Opens (creating when kReadWrite and missing) and migrates the database at path.
  static Result<Database> Open(const std::string& path, Mode mode = Mode::kReadWrite);

  Database(Database&&) noexcept = default;
  Database& operator=(Database&&) noexcept = default;
  ~Database();

  // Runs one or more statements that return no rows.
  Result<void> Execute(std::string_view sql);
  // Compiles a statement; keep it and Reset it to reuse.
  Result<Statement> Prepare(std::string_view sql);

  // How long a statement waits for another connection's lock before failing with "database is
  // locked" (5 s after Open). A writer on a fixed interval wants less, so a lock held elsewhere
  // costs it one interval's write, not its cadence.
  void SetBusyTimeout(std::chrono::milliseconds timeout);

  // Copies the write-ahead log back into the database without waiting for readers (a passive
  // checkpoint). Writers call it between intervals, after turning off SQLite's automatic
  // checkpoint, so that work never lands inside an interval's write.
  Result<void> Checkpoint();

  sqlite3* handle() const { return db_.get(); }
  const std::string& path() const { return path_; }
  // The last error, phrased for a user: "database is locked", "disk is full", ...
  std::string ErrorMessage() const;

 private:
  struct Closer {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  Result<void> Migrate(Mode mode);

  std::unique_ptr<sqlite3, Closer> db_;
  std::string path_;
};

// A prepared statement. Bind parameters are 1-based, as in SQLite.
class Statement {
 public:
  Statement(Statement&&) noexcept = default;
  Statement& operator=(Statement&&) noexcept = default;

  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, std::string_view text);
  Statement& BindBlob(int index, std::span<const uint8_t> bytes);
  Statement& BindNull(int index);
  template <typename T>
  Statement& Bind(int index, const std::optional<T>& value) {
    return value ? Bind(index, *value) : BindNull(index);
  }

  // Advances to the next row: true when a row is available, false when done; errors are values.
  Result<bool> Step();
  // Steps a statement that returns no rows.
  Result<void> Run();
  void Reset();

  int64_t Int(int column) const { return sqlite3_column_int64(statement_.get(), column); }
  bool IsNull(int column) const {
    return sqlite3_column_type(statement_.get(), column) == SQLITE_NULL;
  }
  std::string Text(int column) const;
  std::span<const uint8_t> Blob(int column) const;

 private:
  friend class Database;
  struct Finalizer {
    void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
  };
  Statement(sqlite3_stmt* statement, sqlite3* db) : statement_(statement), db_(db) {}

  std::unique_ptr<sqlite3_stmt, Finalizer> statement_;
  sqlite3* db_ = nullptr;
};

// BEGIN IMMEDIATE ... COMMIT; rolls back on destruction unless committed.
class Transaction {
 public:
  static Result<Transaction> Begin(Database& db);
  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();
  Result<void> Commit();

 private:
  explicit Transaction(Database& db) : db_(&db) {}
  Database* db_;
  bool open_ = true;
};

}  // namespace portwatch::store
