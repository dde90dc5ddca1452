#include "store/database.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>

#include "tests/store/store_test_support.h"
#include "tests/support/temp_dir.h"

namespace portwatch::store {
namespace {

using portwatch::testing::TempDir;
using ::testing::HasSubstr;
using testing::QueryInt;

constexpr int64_t kPortwatchApplicationId = 0x50574348;  // 'PWCH'

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string RandomBytes(size_t size) {
  std::mt19937 random(12345);
  std::string bytes(size, '\0');
  for (char& byte : bytes) byte = static_cast<char>(random() & 0xff);
  return bytes;
}

// Runs SQL on a plain sqlite3 connection, as another program would.
void RawSql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* message = nullptr;
  const int code = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
  EXPECT_EQ(code, SQLITE_OK) << (message ? message : "");
  sqlite3_free(message);
  sqlite3_close(db);
}

std::string Text(Database& db, const std::string& sql) {
  Result<Statement> statement = db.Prepare(sql);
  EXPECT_TRUE(statement.ok());
  if (!statement) return {};
  Result<bool> row = statement->Step();
  EXPECT_TRUE(row.ok() && *row);
  return statement->Text(0);
}

bool SidecarsExist(const std::string& path) {
  return std::filesystem::exists(path + "-wal") || std::filesystem::exists(path + "-shm") ||
         std::filesystem::exists(path + "-journal");
}

TEST(Database, CreatesAFreshDatabase) {
  TempDir dir;
  const std::string path = dir.path() + "/history.db";
  Result<Database> db = Database::Open(path);
  ASSERT_TRUE(db.ok()) << db.error().message;
  EXPECT_TRUE(std::filesystem::exists(path));
  EXPECT_EQ(db->path(), path);
  EXPECT_EQ(Text(*db, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(QueryInt(*db, "PRAGMA application_id"), kPortwatchApplicationId);
  EXPECT_EQ(QueryInt(*db, "PRAGMA user_version"), Database::kSchemaVersion);
  EXPECT_EQ(QueryInt(*db, "PRAGMA foreign_keys"), 1);
  for (const char* table :
       {"meta", "processes", "sockets", "state_changes", "keyframes", "listener_events", "samples",
        "alerts", "alert_events", "acceptances"}) {
    EXPECT_EQ(QueryInt(*db, std::string("SELECT count(*) FROM sqlite_schema WHERE type = 'table' "
                                        "AND name = '") +
                                table + "'"),
              1)
        << table;
  }
}

// Accepted subjects of schema 4 become acceptances of every rule in their alert's reasons, at the
// alert's severity, comparing no executable (none was recorded).
TEST(Database, AcceptedSubjectsMigrateToAnAcceptancePerRuleOfTheirAlert) {
  TempDir dir;
  const std::string path = dir.path() + "/history.db";
  { ASSERT_TRUE(Database::Open(path).ok()); }
  RawSql(path,
         "INSERT INTO alerts(id, fingerprint, subject, kind, severity, status, title, reasons, "
         "count, first_seen, last_seen, accepted, first_evidence, last_evidence) VALUES(7, 'f', "
         "'listener tcp/4444', 1, 4, 3, 't', "
         "'[{\"rule\":\"backdoor_port\",\"severity\":\"high\"},"
         "{\"rule\":\"unexpected_listener\",\"severity\":\"medium\"}]', 1, 1, 2, 1, '{}', "
         "'{}');"
         "DROP TABLE acceptances;"
         "CREATE TABLE accepted_subjects(subject TEXT PRIMARY KEY, accepted_at INTEGER NOT NULL, "
         "alert_id INTEGER) WITHOUT ROWID;"
         "INSERT INTO accepted_subjects VALUES('listener tcp/4444', 5, 7);"
         "PRAGMA user_version = 4;");
  Result<Database> db = Database::Open(path);
  ASSERT_TRUE(db.ok()) << db.error().message;
  EXPECT_EQ(QueryInt(*db, "PRAGMA user_version"), Database::kSchemaVersion);
  EXPECT_EQ(Text(*db,
                 "SELECT group_concat(subject || ' ' || rule || ' ' || severity || ' ' || "
                 "accepted_at || ' ' || alert_id || ' [' || exe || '] ' || exe_inode, ', ') "
                 "FROM (SELECT * FROM acceptances ORDER BY rule)"),
            "listener tcp/4444 backdoor_port 4 5 7 [] 0, "
            "listener tcp/4444 unexpected_listener 4 5 7 [] 0");
  EXPECT_EQ(QueryInt(*db, "SELECT count(*) FROM sqlite_schema WHERE name = 'accepted_subjects'"),
            0);
}

TEST(Database, FreshDatabaseUsesIncrementalAutoVacuum) {
  // Retention relies on it to hand freed pages back; it only takes effect before the database
  // file gets its first page, which PRAGMA journal_mode = WAL already writes.
  TempDir dir;
  Database db = testing::OpenOrDie(dir.path() + "/history.db");
  EXPECT_EQ(QueryInt(db, "PRAGMA auto_vacuum"), 2) << "0 none, 1 full, 2 incremental";
}

TEST(Database, ReopensItsOwnDatabase) {
  TempDir dir;
  const std::string path = dir.path() + "/history.db";
  {
    Database db = testing::OpenOrDie(path);
    ASSERT_TRUE(db.Execute("INSERT INTO meta(key, value) VALUES('probe', 'kept')").ok());
  }
  {
    Result<Database> again = Database::Open(path);
    ASSERT_TRUE(again.ok()) << again.error().message;
    EXPECT_EQ(Text(*again, "SELECT value FROM meta WHERE key = 'probe'"), "kept");
    EXPECT_EQ(QueryInt(*again, "PRAGMA user_version"), Database::kSchemaVersion);
  }
  Result<Database> read_only = Database::Open(path, Database::Mode::kReadOnly);
  ASSERT_TRUE(read_only.ok()) << read_only.error().message;
  EXPECT_EQ(Text(*read_only, "SELECT value FROM meta WHERE key = 'probe'"), "kept");
  EXPECT_FALSE(read_only->Execute("INSERT INTO meta(key, value) VALUES('x', 'y')").ok());
}

TEST(Database, ReadOnlyAndReadWriteConnectionsWorkSideBySide) {
  TempDir dir;
  const std::string path = dir.path() + "/history.db";
  Database writer = testing::OpenOrDie(path);
  Database reader = testing::OpenOrDie(path, Database::Mode::kReadOnly);
  ASSERT_TRUE(writer.Execute("INSERT INTO meta(key, value) VALUES('a', 'b')").ok());
  EXPECT_EQ(QueryInt(reader, "SELECT count(*) FROM meta WHERE key = 'a'"), 1);
}

TEST(Database, RandomBytesAreNotAPortwatchDatabaseAndStayUntouched) {
  TempDir dir;
  const std::string bytes = RandomBytes(8192);
  const std::string path = dir.WriteFile("notes.db", bytes);
  for (const Database::Mode mode : {Database::Mode::kReadWrite, Database::Mode::kReadOnly}) {
    Result<Database> db = Database::Open(path, mode);
    ASSERT_FALSE(db.ok());
    EXPECT_THAT(db.error().message, HasSubstr("not a portwatch database"));
    EXPECT_THAT(db.error().message, HasSubstr(path));
  }
  EXPECT_EQ(ReadBytes(path), bytes);
  EXPECT_FALSE(SidecarsExist(path));
}

TEST(Database, ShortTextFileIsNotAPortwatchDatabaseAndStaysUntouched) {
  TempDir dir;
  const std::string text = "remember to rotate the keys\n";
  const std::string path = dir.WriteFile("todo.txt", text);
  Result<Database> db = Database::Open(path);
  ASSERT_FALSE(db.ok());
  EXPECT_THAT(db.error().message, HasSubstr("not a portwatch database"));
  EXPECT_EQ(ReadBytes(path), text);
  EXPECT_FALSE(SidecarsExist(path));
}

TEST(Database, ForeignSqliteDatabaseIsRefusedAndStaysUntouched) {
  TempDir dir;
  const std::string path = dir.path() + "/firefox.sqlite";
  RawSql(path, "CREATE TABLE bookmarks(url TEXT); INSERT INTO bookmarks VALUES('https://x');");
  const std::string bytes = ReadBytes(path);
  ASSERT_FALSE(bytes.empty());
  for (const Database::Mode mode : {Database::Mode::kReadWrite, Database::Mode::kReadOnly}) {
    Result<Database> db = Database::Open(path, mode);
    ASSERT_FALSE(db.ok());
    EXPECT_THAT(db.error().message, HasSubstr("another program"));
    EXPECT_THAT(db.error().message, HasSubstr(path));
  }
  EXPECT_EQ(ReadBytes(path), bytes);
  EXPECT_FALSE(SidecarsExist(path));
}

TEST(Database, ForeignDatabaseWithoutTablesButAVersionIsRefused) {
  TempDir dir;
  const std::string path = dir.path() + "/other.db";
  RawSql(path, "PRAGMA user_version = 1;");
  const std::string bytes = ReadBytes(path);
  Result<Database> db = Database::Open(path);
  ASSERT_FALSE(db.ok());
  EXPECT_THAT(db.error().message, HasSubstr("another program"));
  EXPECT_EQ(ReadBytes(path), bytes);
}

TEST(Database, ForeignApplicationIdIsRefused) {
  TempDir dir;
  const std::string path = dir.path() + "/other.db";
  RawSql(path, "PRAGMA application_id = 1234; CREATE TABLE t(x);");
  const std::string bytes = ReadBytes(path);
  Result<Database> db = Database::Open(path);
  ASSERT_FALSE(db.ok());
  EXPECT_THAT(db.error().message, HasSubstr("another program"));
  EXPECT_EQ(ReadBytes(path), bytes);
}

TEST(Database, NewerSchemaIsRefused) {
  TempDir dir;
  const std::string path = dir.path() + "/history.db";
  { Database db = testing::OpenOrDie(path); }
  RawSql(path, "PRAGMA user_version = 99;");
  for (const Database::Mode mode : {Database::Mode::kReadWrite, Database::Mode::kReadOnly}) {
    Result<Database> db = Database::Open(path, mode);
    ASSERT_FALSE(db.ok());
    EXPECT_THAT(db.error().message, HasSubstr("newer portwatch"));
    EXPECT_THAT(db.error().message, HasSubstr("99"));
  }
  // Still version 99: nothing was migrated down or over.
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* statement = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(raw, "PRAGMA user_version", -1, &statement, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(statement), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int64(statement, 0), 99);
  sqlite3_finalize(statement);
  sqlite3_close(raw);
}

TEST(Database, ReadOnlyOpenOfAMissingFileSaysToRecordFirst) {
  TempDir dir;
  const std::string path = dir.path() + "/missing.db";
  Result<Database> db = Database::Open(path, Database::Mode::kReadOnly);
  ASSERT_FALSE(db.ok());
  EXPECT_THAT(db.error().message, HasSubstr("portwatch record"));
  EXPECT_THAT(db.error().message, HasSubstr(path));
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(Database, ReadOnlyOpenOfAnEmptyFileIsAnError) {
  TempDir dir;
  const std::string path = dir.WriteFile("empty.db", "");
  Result<Database> db = Database::Open(path, Database::Mode::kReadOnly);
  ASSERT_FALSE(db.ok());
  EXPECT_THAT(db.error().message, HasSubstr(path));
  EXPECT_EQ(std::filesystem::file_size(path), 0u);
}

TEST(Database, OpenInAMissingDirectoryIsAnErrorNamingThePath) {
  TempDir dir;
  const std::string path = dir.path() + "/no/such/dir/history.db";
  Result<Database> db = Database::Open(path);
  ASSERT_FALSE(db.ok());
  EXPECT_THAT(db.error().message, HasSubstr(path));
}

TEST(Database, TransactionRollsBackUnlessCommitted) {
  TempDir dir;
  Database db = testing::OpenOrDie(dir.path() + "/history.db");
  {
    Result<Transaction> transaction = Transaction::Begin(db);
    ASSERT_TRUE(transaction.ok()) << transaction.error().message;
    ASSERT_TRUE(db.Execute("INSERT INTO meta(key, value) VALUES('dropped', '1')").ok());
    EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM meta WHERE key = 'dropped'"), 1);
  }
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM meta WHERE key = 'dropped'"), 0);
  {
    Result<Transaction> transaction = Transaction::Begin(db);
    ASSERT_TRUE(transaction.ok());
    ASSERT_TRUE(db.Execute("INSERT INTO meta(key, value) VALUES('kept', '1')").ok());
    ASSERT_TRUE(transaction->Commit().ok());
  }
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM meta WHERE key = 'kept'"), 1);
  // The connection is usable again: no transaction was left open.
  EXPECT_TRUE(sqlite3_get_autocommit(db.handle()));
}

TEST(Database, MovedTransactionRollsBackOnce) {
  TempDir dir;
  Database db = testing::OpenOrDie(dir.path() + "/history.db");
  {
    Result<Transaction> transaction = Transaction::Begin(db);
    ASSERT_TRUE(transaction.ok());
    Transaction moved = std::move(transaction).value();
    ASSERT_TRUE(db.Execute("INSERT INTO meta(key, value) VALUES('dropped', '1')").ok());
  }
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM meta"), 0);
  EXPECT_TRUE(sqlite3_get_autocommit(db.handle()));
}

TEST(Database, TransactionOnALockedDatabaseIsAnError) {
  TempDir dir;
  const std::string path = dir.path() + "/history.db";
  Database holder = testing::OpenOrDie(path);
  Database db = testing::OpenOrDie(path);
  db.SetBusyTimeout(std::chrono::milliseconds(10));
  ASSERT_TRUE(holder.Execute("BEGIN EXCLUSIVE").ok());
  Result<Transaction> transaction = Transaction::Begin(db);
  ASSERT_FALSE(transaction.ok());
  EXPECT_THAT(transaction.error().message, HasSubstr("locked"));
  EXPECT_THAT(transaction.error().message, HasSubstr(path));
  ASSERT_TRUE(holder.Execute("ROLLBACK").ok());
  EXPECT_TRUE(Transaction::Begin(db).ok());
}

TEST(Database, StatementsBindAndReadValues) {
  TempDir dir;
  Database db = testing::OpenOrDie(dir.path() + "/history.db");
  Result<Statement> select = db.Prepare("SELECT ?1, ?2, ?3, ?4");
  ASSERT_TRUE(select.ok());
  const uint8_t blob[] = {1, 2, 3};
  select->Bind(1, int64_t{-7}).Bind(2, std::string_view("text")).BindBlob(3, blob).BindNull(4);
  Result<bool> row = select->Step();
  ASSERT_TRUE(row.ok() && *row);
  EXPECT_EQ(select->Int(0), -7);
  EXPECT_EQ(select->Text(1), "text");
  ASSERT_EQ(select->Blob(2).size(), 3u);
  EXPECT_EQ(select->Blob(2)[2], 3);
  EXPECT_TRUE(select->IsNull(3));
  Result<Statement> bad = db.Prepare("SELECT FROM nowhere");
  EXPECT_FALSE(bad.ok());
}

}  // namespace
}  // namespace portwatch::store
