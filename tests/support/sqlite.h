// Sqlite: a SQLite connection of the test's own, to read, lock or fake a database independently
// of portwatch's store code. Closed on scope exit; not copyable; one thread at a time.
#pragma once

#include <sqlite3.h>

#include <optional>
#include <string>
#include <vector>

namespace portwatch::testing {

class Sqlite {
 public:
  // Opens path with SQLITE_OPEN_* flags and a 2 s busy timeout; ok() says whether it opened.
  Sqlite(const std::string& path, int flags);
  ~Sqlite();
  Sqlite(const Sqlite&) = delete;
  Sqlite& operator=(const Sqlite&) = delete;

  bool ok() const { return opened_ == SQLITE_OK; }

  // Runs statements; the error message, or "" on success.
  std::string Execute(const std::string& sql);

  // The first column of every row, as text (NULL as ""); nullopt when the query fails.
  std::optional<std::vector<std::string>> Column(const std::string& sql);

 private:
  sqlite3* db_ = nullptr;
  int opened_ = SQLITE_ERROR;
};

}  // namespace portwatch::testing
