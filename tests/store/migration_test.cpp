// Upgrading a database recorded by an older portwatch: tests/fixtures/store/schema1.db was
// recorded by `portwatch record` at schema 1 (a listener on 127.0.0.1:8080 opened 2 s after the
// start, one connection to it, both closed 2 s later; the one keyframe predates them all).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "store/database.h"
#include "store/history_writer.h"
#include "store/queries.h"
#include "tests/store/store_test_support.h"
#include "tests/support/snapshot_builder.h"
#include "tests/support/temp_dir.h"

namespace portwatch::store {
namespace {

using portwatch::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::QueryInt;

constexpr int64_t kKeyframeAt = 1795610802714;
constexpr int64_t kListenerOpen = 1795610805500;  // listener, accepted and client sockets open
constexpr int64_t kLastSample = 1795610807214;

class SchemaOneDatabase : public ::testing::Test {
 protected:
  SchemaOneDatabase() : path_(dir_.path() + "/history.db") {
    std::filesystem::copy_file(PORTWATCH_FIXTURES "/store/schema1.db", path_);
  }

  TempDir dir_;
  std::string path_;
};

TEST_F(SchemaOneDatabase, ReadOnlyOpenAsksForAnUpgradeAndChangesNothing) {
  const auto before = std::filesystem::file_size(path_);
  Result<Database> db = Database::Open(path_, Database::Mode::kReadOnly);
  ASSERT_FALSE(db.ok());
  EXPECT_THAT(db.error().message, HasSubstr("older schema (1)"));
  EXPECT_EQ(std::filesystem::file_size(path_), before);
}

TEST_F(SchemaOneDatabase, UpgradesAndKeepsAnsweringPointInTimeQueries) {
  Result<Database> db = Database::Open(path_);
  ASSERT_TRUE(db.ok()) << db.error().message;
  EXPECT_EQ(QueryInt(*db, "PRAGMA user_version"), Database::kSchemaVersion);
  EXPECT_EQ(QueryInt(*db,
                     "SELECT count(*) FROM sqlite_schema WHERE name IN ('sockets_opened', "
                     "'sockets_closed')"),
            0);
  EXPECT_EQ(QueryInt(*db, "SELECT last_socket_id FROM keyframes"), 0) << "schema 1: unknown";

  // The keyframe knows nothing of sockets opened after it; they are still found.
  Result<History> open = StateAt(*db, kListenerOpen);
  ASSERT_TRUE(open.ok()) << open.error().message;
  EXPECT_THAT(open->ids, ElementsAre(1, 2, 3));
  Result<History> before = StateAt(*db, kKeyframeAt + 500);
  ASSERT_TRUE(before.ok()) << before.error().message;
  EXPECT_TRUE(before->ids.empty());

  // Writing goes on: the next keyframe records the highest id, and older moments still answer.
  {
    Result<HistoryWriter> writer = HistoryWriter::Create(*db, {});
    ASSERT_TRUE(writer.ok()) << writer.error().message;
    Result<WriteStats> written =
        writer->Write(portwatch::testing::SnapshotBuilder(kLastSample + 1000).Build());
    ASSERT_TRUE(written.ok()) << written.error().message;
  }
  EXPECT_EQ(QueryInt(*db, "SELECT last_socket_id FROM keyframes ORDER BY at DESC LIMIT 1"), 3);
  Result<History> again = StateAt(*db, kListenerOpen);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_THAT(again->ids, ElementsAre(1, 2, 3));
  Result<History> after = StateAt(*db, kLastSample + 1000);
  ASSERT_TRUE(after.ok()) << after.error().message;
  EXPECT_TRUE(after->ids.empty());
}

TEST_F(SchemaOneDatabase, UpgradeKeepsEveryProcessAndTheSocketsThatReferToIt) {
  Result<Database> db = Database::Open(path_);
  ASSERT_TRUE(db.ok()) << db.error().message;
  EXPECT_GT(QueryInt(*db, "SELECT count(*) FROM sockets WHERE process_id IS NOT NULL"), 0);
  EXPECT_EQ(QueryInt(*db,
                     "SELECT count(*) FROM sockets s WHERE s.process_id IS NOT NULL AND NOT "
                     "EXISTS (SELECT 1 FROM processes p WHERE p.id = s.process_id)"),
            0);
  // Processes recorded before boot ids and executable identities: unknown, not made up.
  EXPECT_EQ(QueryInt(*db, "SELECT count(*) FROM processes WHERE boot_id != '' OR exe_inode != 0"),
            0);
  EXPECT_EQ(QueryInt(*db, "PRAGMA foreign_keys"), 1) << "back on once migrated";
  EXPECT_EQ(QueryInt(*db, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
  // A process that was recorded then and execs now is a second row under the same pid.
  Result<History> open = StateAt(*db, kListenerOpen);
  ASSERT_TRUE(open.ok()) << open.error().message;
  ASSERT_FALSE(open->snapshot.processes.empty());
  collectors::Process execed = open->snapshot.processes.front();
  execed.exe_inode = 77;
  Result<HistoryWriter> writer = HistoryWriter::Create(*db, {});
  ASSERT_TRUE(writer.ok()) << writer.error().message;
  ASSERT_TRUE(writer
                  ->Write(portwatch::testing::SnapshotBuilder(kLastSample + 1000)
                              .Add(portwatch::testing::Listener(99, "0.0.0.0", 4444), execed)
                              .Build())
                  .ok());
  EXPECT_EQ(
      QueryInt(*db, "SELECT count(*) FROM processes WHERE pid = " + std::to_string(execed.pid)), 2);
}

}  // namespace
}  // namespace portwatch::store
