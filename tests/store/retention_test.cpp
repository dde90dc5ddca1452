#include "store/retention.h"

#include <gtest/gtest.h>

#include "collectors/derive.h"
#include "store/alerts.h"
#include "store/history_writer.h"
#include "store/queries.h"
#include "tests/support/temp_dir.h"

namespace portwatch::store {
namespace {

using collectors::Address;
using collectors::Protocol;
using collectors::Snapshot;
using collectors::Socket;
using collectors::SocketState;
using portwatch::testing::TempDir;
using store::Alert;
using store::AlertEventKind;
using store::AlertStatus;

constexpr int64_t kMinute = 60 * 1000;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kStart = 1'790'002'800'000;  // Unix ms on a whole hour (2026-09-21)

Socket Connection(uint16_t local_port, uint64_t cookie) {
  Socket socket;
  socket.protocol = Protocol::kTcp;
  socket.family = collectors::Family::kIpv4;
  socket.state = SocketState::kEstablished;
  socket.local = {*Address::Parse("192.0.2.1"), local_port};
  socket.remote = {*Address::Parse("198.51.100.7"), 443};
  socket.cookie = cookie;
  socket.inode = cookie + 1000;
  return socket;
}

Snapshot At(int64_t ms, std::vector<Socket> sockets) {
  Snapshot snapshot;
  snapshot.taken_at = std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
  snapshot.sockets = std::move(sockets);
  collectors::DeriveFields(snapshot);
  return snapshot;
}

int64_t Count(Database& db, const std::string& sql) {
  Result<Statement> query = db.Prepare(sql);
  EXPECT_TRUE(query.ok());
  Result<bool> row = query->Step();
  EXPECT_TRUE(row.ok() && *row);
  return query->Int(0);
}

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<Database> opened = Database::Open(dir_.path() + "/history.db");
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    db_.emplace(std::move(opened).value());
  }
  // Writes one interval per minute for `minutes`, with connection i open during minute i only.
  void WriteChurn(int64_t from, int minutes) {
    Result<HistoryWriter> writer = HistoryWriter::Create(*db_);
    ASSERT_TRUE(writer.ok());
    for (int i = 0; i < minutes; ++i) {
      ASSERT_TRUE(writer
                      ->Write(At(from + i * kMinute, {Connection(static_cast<uint16_t>(40000 + i),
                                                                 static_cast<uint64_t>(i + 1))}))
                      .ok());
    }
    ASSERT_TRUE(writer->Write(At(from + minutes * kMinute, {})).ok());
  }

  TempDir dir_;
  std::optional<Database> db_;
};

TEST_F(RetentionTest, DeletesSocketsClosedBeforeTheAgeLimitInBatches) {
  WriteChurn(kStart, 30);  // 30 lifetimes, closed one minute apart
  RetentionPolicy policy;
  policy.max_age = std::chrono::minutes(10);
  policy.max_bytes = 0;
  policy.batch_rows = 7;
  const int64_t now = kStart + 31 * kMinute;  // keep what closed in the last 10 minutes
  int batches = 0;
  for (;;) {
    Result<PruneStats> pruned = PruneBatch(*db_, policy, now);
    ASSERT_TRUE(pruned.ok()) << pruned.error().message;
    EXPECT_LE(pruned->sockets_deleted, 7);
    ++batches;
    if (!pruned->more) break;
    ASSERT_LT(batches, 20);
  }
  EXPECT_GE(batches, 3);  // 20 old sockets at 7 a batch
  // Lifetime i closed at kStart + (i + 1) minutes; those closed before now - 10 min are gone.
  EXPECT_EQ(Count(*db_, "SELECT count(*) FROM sockets"), 10);
  EXPECT_EQ(Count(*db_, "SELECT min(closed_at) FROM sockets"), now - 10 * kMinute);
  // Processes, changes and events go with them; what is left still answers queries.
  Result<History> later = StateAt(*db_, kStart + 25 * kMinute + 1);
  ASSERT_TRUE(later.ok()) << later.error().message;
  ASSERT_EQ(later->snapshot.sockets.size(), 1u);
  EXPECT_EQ(later->snapshot.sockets[0].local.port, 40025);
}

TEST_F(RetentionTest, FoldsOldPerIntervalSamplesIntoMinuteMaxima) {
  Result<HistoryWriter> writer = HistoryWriter::Create(*db_);
  ASSERT_TRUE(writer.ok());
  // Two hours of 10 s samples; the socket count peaks once in each minute.
  for (int64_t t = 0; t < 2 * kHour; t += 10'000) {
    std::vector<Socket> sockets;
    const int count = (t % kMinute == 20'000) ? 5 : 2;
    for (int i = 0; i < count; ++i)
      sockets.push_back(Connection(uint16_t(50000 + i), uint64_t(i + 1)));
    ASSERT_TRUE(writer->Write(At(kStart + t, sockets)).ok());
  }
  RetentionPolicy policy;
  policy.max_bytes = 0;
  policy.full_resolution = std::chrono::hours(1);
  const int64_t now = kStart + 2 * kHour;
  for (int i = 0; i < 10; ++i) {
    Result<PruneStats> pruned = PruneBatch(*db_, policy, now);
    ASSERT_TRUE(pruned.ok()) << pruned.error().message;
    if (!pruned->more) break;
  }
  // The first hour is one row a minute holding the peak; the second keeps every interval.
  EXPECT_EQ(Count(*db_, "SELECT count(*) FROM samples WHERE resolution = 60000"), 60);
  EXPECT_EQ(Count(*db_, "SELECT min(sockets) FROM samples WHERE resolution = 60000"), 5);
  EXPECT_EQ(Count(*db_, "SELECT count(*) FROM samples WHERE resolution = 0"), 360);
  EXPECT_EQ(Count(*db_, "SELECT min(at) FROM samples WHERE resolution = 0"), kStart + kHour);
  Result<std::vector<Sample>> hourly = SamplesIn(*db_, {kStart, now}, kHour);
  ASSERT_TRUE(hourly.ok());
  ASSERT_EQ(hourly->size(), 2u);
  EXPECT_EQ((*hourly)[0].sockets, 5);
}

TEST_F(RetentionTest, ShrinksADatabaseOverItsSizeLimit) {
  WriteChurn(kStart, 3000);  // 3000 lifetimes
  const uint64_t before = DatabaseBytes(*db_);
  ASSERT_TRUE(db_->Execute("PRAGMA wal_checkpoint(TRUNCATE)").ok());
  RetentionPolicy policy;
  policy.max_age = std::chrono::hours(24 * 365);  // age alone would keep everything
  policy.max_bytes = before / 2;
  policy.batch_rows = 500;
  const int64_t now = kStart + 3001 * kMinute;
  for (int i = 0; i < 50; ++i) {
    Result<PruneStats> pruned = PruneBatch(*db_, policy, now);
    ASSERT_TRUE(pruned.ok()) << pruned.error().message;
    ASSERT_TRUE(db_->Execute("PRAGMA wal_checkpoint(TRUNCATE)").ok());
    if (!pruned->more) break;
  }
  EXPECT_LE(DatabaseBytes(*db_), policy.max_bytes);
  // The newest history is what remains.
  EXPECT_GT(Count(*db_, "SELECT count(*) FROM sockets"), 0);
  EXPECT_EQ(Count(*db_, "SELECT max(closed_at) FROM sockets"), kStart + 3000 * kMinute);
}

TEST_F(RetentionTest, KeepsTheNewestRowSoRowIdsStayInTimeOrder) {
  // Point-in-time queries find sockets opened after a keyframe by row id, which only works while
  // SQLite never hands out an id again: it would if the highest one were deleted.
  WriteChurn(kStart, 5);
  const int64_t newest = Count(*db_, "SELECT max(id) FROM sockets");
  RetentionPolicy policy;
  policy.max_age = std::chrono::minutes(1);
  policy.max_bytes = 0;
  const int64_t now = kStart + kDay;
  Result<PruneStats> pruned = PruneBatch(*db_, policy, now);
  ASSERT_TRUE(pruned.ok()) << pruned.error().message;
  EXPECT_EQ(pruned->sockets_deleted, 4);
  EXPECT_EQ(Count(*db_, "SELECT max(id) FROM sockets"), newest);

  Result<HistoryWriter> writer = HistoryWriter::Create(*db_);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE(writer->Write(At(now, {Connection(41000, 99)})).ok());
  EXPECT_EQ(Count(*db_, "SELECT id FROM sockets WHERE cookie = 99"), newest + 1);
  Result<History> state = StateAt(*db_, now);
  ASSERT_TRUE(state.ok()) << state.error().message;
  ASSERT_EQ(state->snapshot.sockets.size(), 1u);
  EXPECT_EQ(state->snapshot.sockets[0].local.port, 41000);
}

TEST_F(RetentionTest, DeletesAlertsResolvedBeforeTheAgeLimitAndKeepsOpenOnes) {
  const auto alert = [](int64_t seen, std::optional<int64_t> resolved) {
    Alert row;
    row.fingerprint = "f";
    row.subject = "listener tcp/31337";
    row.kind = 1;
    row.severity = 4;
    row.status = resolved ? AlertStatus::kResolved : AlertStatus::kOpen;
    row.title = "t";
    row.reasons = "[]";
    row.first_seen = row.last_seen = seen;
    row.resolved_at = resolved;
    row.first_evidence = row.last_evidence = "{}";
    return row;
  };
  const int64_t now = kStart + 40 * kDay;
  Result<int64_t> old_resolved = InsertAlert(*db_, alert(kStart, kStart + kHour));
  Result<int64_t> old_open = InsertAlert(*db_, alert(kStart, std::nullopt));
  Result<int64_t> recent = InsertAlert(*db_, alert(now - kDay, now - kHour));
  ASSERT_TRUE(old_resolved.ok() && old_open.ok() && recent.ok());
  ASSERT_TRUE(InsertAlertEvent(*db_, {0, *old_resolved, kStart, AlertEventKind::kOpened, ""}).ok());

  RetentionPolicy policy;  // 30 days
  policy.max_bytes = 0;
  Result<PruneStats> pruned = PruneBatch(*db_, policy, now);
  ASSERT_TRUE(pruned.ok()) << pruned.error().message;
  EXPECT_EQ(pruned->alerts_deleted, 1);
  EXPECT_EQ(Count(*db_, "SELECT count(*) FROM alerts WHERE id = " + std::to_string(*old_resolved)),
            0);
  EXPECT_EQ(Count(*db_, "SELECT count(*) FROM alerts"), 2);
  EXPECT_EQ(Count(*db_, "SELECT count(*) FROM alert_events"), 0) << "events go with their alert";
}

TEST_F(RetentionTest, ASizeCutKeepsTheKeyframesTheRemainingHistoryNeeds) {
  // A listener open since the start closes just before the cut: the oldest closed socket by row
  // id is then a recent close, which must not make the cut drop the keyframes of what is left.
  Result<HistoryWriter> writer = HistoryWriter::Create(*db_);
  ASSERT_TRUE(writer.ok());
  Socket listener = Connection(22, 100000);
  listener.remote = {};
  listener.state = SocketState::kListen;
  const int minutes = 1500;
  for (int i = 0; i < minutes; ++i) {
    std::vector<Socket> sockets = {
        Connection(static_cast<uint16_t>(40000 + i % 20000), static_cast<uint64_t>(i + 1))};
    if (i < minutes - 2) sockets.push_back(listener);
    ASSERT_TRUE(writer->Write(At(kStart + i * kMinute, sockets)).ok());
  }
  ASSERT_TRUE(db_->Execute("PRAGMA wal_checkpoint(TRUNCATE)").ok());
  RetentionPolicy policy;
  policy.max_age = std::chrono::hours(24 * 365);
  policy.max_bytes = DatabaseBytes(*db_) * 3 / 4;
  policy.batch_rows = 200;
  Result<PruneStats> pruned = PruneBatch(*db_, policy, kStart + minutes * kMinute);
  ASSERT_TRUE(pruned.ok()) << pruned.error().message;
  ASSERT_GT(pruned->sockets_deleted, 0);
  // Every moment from the oldest socket left on still answers, with that socket in it.
  const int64_t oldest = Count(*db_, "SELECT opened_at FROM sockets ORDER BY id LIMIT 1");
  Result<History> state = StateAt(*db_, oldest + kMinute / 2);
  ASSERT_TRUE(state.ok()) << state.error().message;
  EXPECT_EQ(state->snapshot.sockets.size(), 1u);
}

TEST_F(RetentionTest, NothingToDoIsCheapAndSaysSo) {
  WriteChurn(kStart, 5);
  RetentionPolicy policy;
  Result<PruneStats> pruned = PruneBatch(*db_, policy, kStart + 6 * kMinute);
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(pruned->sockets_deleted, 0);
  EXPECT_FALSE(pruned->more);
  EXPECT_EQ(Count(*db_, "SELECT count(*) FROM sockets"), 5);
}

}  // namespace
}  // namespace portwatch::store
