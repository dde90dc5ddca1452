#include "tests/support/sqlite.h"

namespace portwatch::testing {

Sqlite::Sqlite(const std::string& path, int flags) {
  opened_ = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (db_ != nullptr) sqlite3_busy_timeout(db_, 2000);
}

Sqlite::~Sqlite() { sqlite3_close_v2(db_); }

std::string Sqlite::Execute(const std::string& sql) {
  char* message = nullptr;
  const int code = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
  std::string error = code == SQLITE_OK ? "" : (message ? message : sqlite3_errstr(code));
  sqlite3_free(message);
  return error;
}

std::optional<std::vector<std::string>> Sqlite::Column(const std::string& sql) {
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
    return std::nullopt;
  }
  std::vector<std::string> values;
  int code = SQLITE_ROW;
  while ((code = sqlite3_step(statement)) == SQLITE_ROW) {
    const auto* text = sqlite3_column_text(statement, 0);
    values.emplace_back(text ? reinterpret_cast<const char*>(text) : "");
  }
  sqlite3_finalize(statement);
  if (code != SQLITE_DONE) return std::nullopt;
  return values;
}

}  // namespace portwatch::testing
