// Helpers for the store tests: the moments they record at and small SQL probes. The snapshots they
// record come from tests/support/snapshot_builder.h.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "collectors/snapshot.h"
#include "store/database.h"

namespace portwatch::store::testing {

using collectors::Address;
using collectors::Family;
using collectors::Process;
using collectors::Protocol;
using collectors::Snapshot;
using collectors::Socket;
using collectors::SocketState;

// Unix milliseconds the tests record at; a multiple of every step the tests bucket by.
constexpr int64_t kT0 = 1'700'000'000'000;
constexpr int64_t kStep = 1000;

inline int64_t At(int interval) { return kT0 + interval * kStep; }

// The single integer a query returns (the first column of its first row); fails the test on error.
inline int64_t QueryInt(Database& db, const std::string& sql) {
  Result<Statement> statement = db.Prepare(sql);
  EXPECT_TRUE(statement.ok()) << sql << ": " << (statement ? "" : statement.error().message);
  if (!statement) return -1;
  Result<bool> row = statement->Step();
  EXPECT_TRUE(row.ok() && *row) << sql;
  if (!row || !*row) return -1;
  return statement->Int(0);
}

// Every row of a query, `columns` integers each (NULL reads as -1).
inline std::vector<std::vector<int64_t>> QueryRows(Database& db, const std::string& sql,
                                                   int columns) {
  std::vector<std::vector<int64_t>> rows;
  Result<Statement> statement = db.Prepare(sql);
  EXPECT_TRUE(statement.ok()) << sql << ": " << (statement ? "" : statement.error().message);
  if (!statement) return rows;
  for (;;) {
    Result<bool> row = statement->Step();
    EXPECT_TRUE(row.ok()) << sql << ": " << (row ? "" : row.error().message);
    if (!row || !*row) break;
    std::vector<int64_t> values;
    for (int column = 0; column < columns; ++column) {
      values.push_back(statement->IsNull(column) ? -1 : statement->Int(column));
    }
    rows.push_back(std::move(values));
  }
  return rows;
}

inline Database OpenOrDie(const std::string& path,
                          Database::Mode mode = Database::Mode::kReadWrite) {
  Result<Database> db = Database::Open(path, mode);
  if (!db) ADD_FAILURE() << "cannot open " << path << ": " << db.error().message;
  return std::move(db).value();
}

}  // namespace portwatch::store::testing
