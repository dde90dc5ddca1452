#include "store/history_writer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <string>
#include <vector>

#include "store/keyframe.h"
#include "store/queries.h"
#include "tests/store/store_test_support.h"
#include "tests/support/snapshot_builder.h"
#include "tests/support/temp_dir.h"

namespace portwatch::store {
namespace {

using portwatch::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using ::testing::UnorderedElementsAreArray;
using namespace testing;             // NOLINT: the store test helpers
using namespace portwatch::testing;  // NOLINT: the snapshot builder

using Rows = std::vector<std::vector<int64_t>>;

// A writer stays inside the Result that created it: moving a HistoryWriter out needs the
// definition of its private Statements, which only history_writer.cpp has.
using Writer = Result<HistoryWriter>;

class HistoryWriterTest : public ::testing::Test {
 protected:
  HistoryWriterTest() : path_(dir_.path() + "/history.db"), db_(OpenOrDie(path_)) {}

  Writer NewWriter(WriterOptions options = {}) { return HistoryWriter::Create(db_, options); }

  WriteStats WriteOk(Writer& writer, const Snapshot& snapshot) {
    if (!writer.ok()) {
      ADD_FAILURE() << "no writer: " << writer.error().message;
      return {};
    }
    Result<WriteStats> stats = writer->Write(snapshot);
    EXPECT_TRUE(stats.ok()) << stats.error().message;
    EXPECT_FALSE(writer->behind());
    return stats.ok() ? *stats : WriteStats{};
  }

  int64_t Count(const std::string& table, const std::string& where = "1") {
    return QueryInt(db_, "SELECT count(*) FROM " + table + " WHERE " + where);
  }

  // The row id of the socket with this cookie; -1 when there is none, fails when there are two.
  int64_t RowOf(uint64_t cookie) {
    const Rows rows =
        QueryRows(db_, "SELECT id FROM sockets WHERE cookie = " + std::to_string(cookie), 1);
    EXPECT_LE(rows.size(), 1u) << "cookie " << cookie << " has " << rows.size() << " rows";
    return rows.empty() ? -1 : rows[0][0];
  }

  // (opened_at, closed_at or -1) of the socket with this cookie.
  std::vector<int64_t> LifetimeOf(uint64_t cookie) {
    const Rows rows = QueryRows(
        db_, "SELECT opened_at, closed_at FROM sockets WHERE cookie = " + std::to_string(cookie),
        2);
    EXPECT_EQ(rows.size(), 1u) << "cookie " << cookie;
    return rows.empty() ? std::vector<int64_t>{} : rows[0];
  }

  // (at, state) of every recorded change of the socket with this cookie.
  Rows ChangesOf(uint64_t cookie) {
    return QueryRows(db_,
                     "SELECT c.at, c.state FROM state_changes c JOIN sockets s ON s.id = "
                     "c.socket_id WHERE s.cookie = " +
                         std::to_string(cookie) + " ORDER BY c.at",
                     2);
  }

  TempDir dir_;
  std::string path_;
  Database db_;
};

// A host with a bit of everything: an sshd listener with one inbound session, a browser
// connection, a DNS resolver, a ping and a packet capture.
Snapshot Host(int interval) {
  const Process sshd = Proc(100, 5000, "sshd");
  const Process browser = Proc(200, 6000, "firefox");
  return SnapshotBuilder(At(interval))
      .Add(Listener(1, "0.0.0.0", 22), sshd)
      .Add(Tcp(2, "192.0.2.1", 22, "203.0.113.7", 50000, SocketState::kEstablished), sshd)
      .Add(Tcp(3, "192.0.2.1", 41000, "198.51.100.4", 443, SocketState::kEstablished), browser)
      .Add(Udp(4, "127.0.0.53", 53))
      .Add(Raw(5))
      .Add(Packet(6))
      .Build();
}

TEST_F(HistoryWriterTest, FirstWriteInsertsEverySocketAndAKeyframe) {
  Writer writer = NewWriter();
  const WriteStats stats = WriteOk(writer, Host(0));
  EXPECT_EQ(stats.opened, 6u);
  EXPECT_EQ(stats.closed, 0u);
  EXPECT_EQ(stats.changed, 0u);
  EXPECT_TRUE(stats.keyframe);

  EXPECT_EQ(Count("sockets"), 6);
  EXPECT_EQ(Count("sockets", "opened_at = " + std::to_string(At(0)) + " AND closed_at IS NULL"), 6);
  EXPECT_EQ(Count("state_changes"), 0);
  EXPECT_EQ(Count("processes"), 2);
  EXPECT_EQ(Count("samples"), 1);

  const Rows keyframes = QueryRows(db_, "SELECT at FROM keyframes", 1);
  ASSERT_EQ(keyframes.size(), 1u);
  EXPECT_EQ(keyframes[0][0], At(0));
  Result<Statement> blob = db_.Prepare("SELECT socket_ids FROM keyframes");
  ASSERT_TRUE(blob.ok());
  ASSERT_TRUE(*blob->Step());
  std::optional<std::vector<int64_t>> ids = DecodeKeyframe(blob->Blob(0));
  ASSERT_TRUE(ids.has_value());
  std::vector<int64_t> all;
  for (const auto& row : QueryRows(db_, "SELECT id FROM sockets ORDER BY id", 1)) {
    all.push_back(row[0]);
  }
  EXPECT_EQ(*ids, all);
}

TEST_F(HistoryWriterTest, StoresTheSocketsColumns) {
  Writer writer = NewWriter();
  Snapshot snapshot = Host(0);
  snapshot.sockets[2].netns = 4026532999;  // a socket in another namespace
  WriteOk(writer, snapshot);

  // The inbound ssh session: addresses as 4 network-order bytes, direction and service port.
  const Rows ssh = QueryRows(db_,
                             "SELECT proto, family, state, length(local_addr), local_port, "
                             "hex(remote_addr) = 'CB007107', remote_port, inode, uid, netns, "
                             "direction, service_port, owner_count, owner_status FROM sockets "
                             "WHERE cookie = 2",
                             14);
  ASSERT_EQ(ssh.size(), 1u);
  EXPECT_EQ(ssh[0],
            (std::vector<int64_t>{0, 1, 1, 4, 22, 1, 50000, 100002, 1000, -1, 2, 22, 1, 0}));
  // Another namespace is stored; the host's is NULL and remembered once in meta.
  EXPECT_EQ(QueryInt(db_, "SELECT netns FROM sockets WHERE cookie = 3"), 4026532999);
  EXPECT_EQ(QueryInt(db_, "SELECT value FROM meta WHERE key = 'netns'"),
            static_cast<int64_t>(kHostNetns));
  // The outbound browser connection's service is the remote port.
  EXPECT_EQ(QueryInt(db_, "SELECT direction FROM sockets WHERE cookie = 3"), 3);
  EXPECT_EQ(QueryInt(db_, "SELECT service_port FROM sockets WHERE cookie = 3"), 443);
  // A packet socket has no addresses or ports.
  EXPECT_EQ(QueryRows(db_,
                      "SELECT local_addr IS NULL, local_port IS NULL, remote_addr IS NULL, "
                      "protocol_number, interface FROM sockets WHERE cookie = 6",
                      5),
            (Rows{{1, 1, 1, 3, 2}}));
  // Kernel-owned sockets have no process.
  EXPECT_EQ(Count("sockets", "cookie = 4 AND process_id IS NULL"), 1);
  const Rows sshd = QueryRows(
      db_,
      "SELECT p.pid, p.start_time, p.first_seen FROM sockets s JOIN processes p ON p.id = "
      "s.process_id WHERE s.cookie = 1",
      3);
  EXPECT_EQ(sshd, (Rows{{100, 5000, At(0)}}));
}

TEST_F(HistoryWriterTest, IdenticalSnapshotWritesNoSocketRows) {
  Writer writer = NewWriter();
  WriteOk(writer, Host(0));
  const int total_before = sqlite3_total_changes(db_.handle());
  const WriteStats stats = WriteOk(writer, Host(1));
  EXPECT_EQ(stats.opened, 0u);
  EXPECT_EQ(stats.closed, 0u);
  EXPECT_EQ(stats.changed, 0u);
  EXPECT_FALSE(stats.keyframe);
  EXPECT_EQ(Count("sockets"), 6);
  EXPECT_EQ(Count("sockets", "closed_at IS NOT NULL"), 0);
  EXPECT_EQ(Count("state_changes"), 0);
  EXPECT_EQ(Count("listener_events"), 2);
  EXPECT_EQ(Count("processes"), 2);
  EXPECT_EQ(Count("keyframes"), 1);
  EXPECT_EQ(Count("samples"), 2);
  // The sample is the only row the interval wrote.
  EXPECT_EQ(sqlite3_total_changes(db_.handle()) - total_before, 1);
}

TEST_F(HistoryWriterTest, RecordsOpenedClosedAndChangedWithTheirTimes) {
  Writer writer = NewWriter();
  WriteOk(writer,
          SnapshotBuilder(At(0))
              .Add(Tcp(10, "192.0.2.1", 41000, "198.51.100.4", 443, SocketState::kEstablished))
              .Add(Tcp(11, "192.0.2.1", 41001, "198.51.100.4", 443, SocketState::kEstablished))
              .Build());
  // 10 goes into TIME_WAIT (same cookie), 11 closes, 12 opens.
  const WriteStats stats = WriteOk(
      writer, SnapshotBuilder(At(1))
                  .Add(Tcp(10, "192.0.2.1", 41000, "198.51.100.4", 443, SocketState::kTimeWait))
                  .Add(Tcp(12, "192.0.2.1", 41002, "198.51.100.4", 443, SocketState::kSynSent))
                  .Build());
  EXPECT_EQ(stats.opened, 1u);
  EXPECT_EQ(stats.closed, 1u);
  EXPECT_EQ(stats.changed, 1u);
  EXPECT_EQ(Count("sockets"), 3);
  EXPECT_EQ(LifetimeOf(10), (std::vector<int64_t>{At(0), -1}));
  EXPECT_EQ(ChangesOf(10), (Rows{{At(1), static_cast<int64_t>(SocketState::kTimeWait)}}));
  EXPECT_EQ(QueryInt(db_, "SELECT state FROM sockets WHERE cookie = 10"),
            static_cast<int64_t>(SocketState::kEstablished));
  EXPECT_EQ(LifetimeOf(11), (std::vector<int64_t>{At(0), At(1)}));
  EXPECT_EQ(LifetimeOf(12), (std::vector<int64_t>{At(1), -1}));
  EXPECT_THAT(ChangesOf(12), IsEmpty());

  // 10 finally goes, 12 becomes established.
  const WriteStats later = WriteOk(
      writer, SnapshotBuilder(At(2))
                  .Add(Tcp(12, "192.0.2.1", 41002, "198.51.100.4", 443, SocketState::kEstablished))
                  .Build());
  EXPECT_EQ(later.closed, 1u);
  EXPECT_EQ(later.changed, 1u);
  EXPECT_EQ(LifetimeOf(10), (std::vector<int64_t>{At(0), At(2)}));
  EXPECT_EQ(ChangesOf(12), (Rows{{At(2), static_cast<int64_t>(SocketState::kEstablished)}}));
  EXPECT_EQ(Count("sockets"), 3);
}

TEST_F(HistoryWriterTest, StoresAProcessAgainOnceRetentionDeletedItsRow) {
  // Retention deletes process rows no socket row refers to, while the writer may still remember
  // their ids (a process that only shares sockets another process owns first). Told so, the
  // writer stores the process again instead of failing every write on the foreign key.
  Writer writer = NewWriter();
  const Process worker = Proc(400, 5000, "worker");
  WriteOk(writer, SnapshotBuilder(At(0)).Add(Listener(1, "0.0.0.0", 8080), worker).Build());
  ASSERT_TRUE(db_.Execute("DELETE FROM sockets; DELETE FROM processes").ok());  // as retention
  writer->ForgetProcesses();
  WriteOk(writer, SnapshotBuilder(At(1))
                      .Add(Listener(1, "0.0.0.0", 8080), worker)
                      .Add(Listener(2, "0.0.0.0", 8081), worker)
                      .Build());
  EXPECT_EQ(Count("processes", "pid = 400"), 1);
  EXPECT_EQ(Count("sockets", "process_id = (SELECT id FROM processes WHERE pid = 400)"), 1);
}

TEST_F(HistoryWriterTest, ProcessesAreStoredOncePerPidAndStartTime) {
  Writer writer = NewWriter();
  const Process nginx = Proc(300, 7000, "nginx");
  WriteOk(writer, SnapshotBuilder(At(0))
                      .Add(Listener(1, "0.0.0.0", 80), nginx)
                      .Add(Listener(2, "::", 80), nginx)
                      .Build());
  EXPECT_EQ(Count("processes"), 1);
  // Later sockets of the same process reuse its row.
  WriteOk(writer,
          SnapshotBuilder(At(1))
              .Add(Listener(1, "0.0.0.0", 80), nginx)
              .Add(Listener(2, "::", 80), nginx)
              .Add(Tcp(3, "192.0.2.1", 80, "203.0.113.9", 40000, SocketState::kEstablished), nginx)
              .Build());
  EXPECT_EQ(Count("processes"), 1);
  EXPECT_EQ(Count("sockets", "process_id = (SELECT id FROM processes)"), 3);

  // The pid comes back for another program, started later: a new process row.
  const Process reused = Proc(300, 9000, "evil");
  WriteOk(writer, SnapshotBuilder(At(2)).Add(Listener(4, "0.0.0.0", 4444), reused).Build());
  EXPECT_EQ(Count("processes"), 2);
  EXPECT_EQ(Count("processes", "pid = 300"), 2);
  EXPECT_EQ(QueryInt(db_,
                     "SELECT p.start_time FROM sockets s JOIN processes p ON p.id = s.process_id "
                     "WHERE s.cookie = 4"),
            9000);
  EXPECT_EQ(QueryInt(db_, "SELECT first_seen FROM processes WHERE start_time = 9000"), At(2));

  // After a restart the writer finds the rows it already has instead of adding more.
  Writer restarted = NewWriter();
  WriteOk(
      restarted,
      SnapshotBuilder(At(3))
          .Add(Listener(4, "0.0.0.0", 4444), reused)
          .Add(Tcp(5, "192.0.2.1", 4444, "203.0.113.9", 40001, SocketState::kEstablished), reused)
          .Add(Listener(6, "0.0.0.0", 8080), nginx)
          .Build());
  EXPECT_EQ(Count("processes"), 2);
  EXPECT_EQ(QueryInt(db_, "SELECT process_id FROM sockets WHERE cookie = 5"),
            QueryInt(db_, "SELECT process_id FROM sockets WHERE cookie = 4"));
  EXPECT_EQ(QueryInt(db_, "SELECT process_id FROM sockets WHERE cookie = 6"),
            QueryInt(db_, "SELECT process_id FROM sockets WHERE cookie = 1"));
}

// A process as it is after exec'ing into another binary: same pid and start time, another
// executable file (device and inode) and whatever name and command line it now has.
Process Execed(const Process& before, const std::string& exe, uint64_t inode) {
  Process after = before;
  after.exe = exe;
  after.name = exe.substr(exe.rfind('/') + 1);
  after.cmdline = exe + " 1000";
  after.exe_device = 2049;
  after.exe_inode = inode;
  after.exe_mtime_ns = 1700000000000000000;
  return after;
}

// The attack of issue 16: a listener's owner execs into a copy of sleep under /tmp. The history
// shows the new owner from the moment it was seen, and the old one before it.
TEST_F(HistoryWriterTest, AnOwnerThatExecsIsANewProcessRowAndItsSocketsANewRow) {
  Writer writer = NewWriter();
  Process python = Proc(500, 4200, "python3");
  python.exe_device = 2049;
  python.exe_inode = 11;
  const Process sleeper = Execed(python, "/tmp/x/innocent", 22);
  WriteOk(writer, SnapshotBuilder(At(0)).Add(Listener(1, "0.0.0.0", 31337), python).Build());
  const WriteStats stats =
      WriteOk(writer, SnapshotBuilder(At(1)).Add(Listener(1, "0.0.0.0", 31337), sleeper).Build());
  EXPECT_EQ(stats.owner_changed, 1u);
  EXPECT_EQ(stats.opened + stats.closed, 0u) << "the socket itself stayed";

  EXPECT_EQ(Count("processes", "pid = 500 AND start_time = 4200"), 2);
  EXPECT_EQ(QueryRows(db_,
                      "SELECT s.opened_at, COALESCE(s.closed_at, -1), p.exe_inode FROM sockets s "
                      "JOIN processes p ON p.id = s.process_id WHERE s.cookie = 1 ORDER BY s.id",
                      3),
            (Rows{{At(0), At(1), 11}, {At(1), -1, 22}}));
  // The listener never went away: one "appeared", no "disappeared".
  EXPECT_EQ(QueryRows(db_, "SELECT at, kind FROM listener_events", 2), (Rows{{At(0), 1}}));

  // Point in time: the owner then.
  Result<History> then = StateAt(db_, At(0));
  ASSERT_TRUE(then.ok()) << then.error().message;
  ASSERT_EQ(then->snapshot.sockets.size(), 1u);
  EXPECT_EQ(then->snapshot.PrimaryOwner(then->snapshot.sockets[0])->exe, "/usr/bin/python3");
  Result<History> now = StateAt(db_, At(1));
  ASSERT_TRUE(now.ok()) << now.error().message;
  ASSERT_EQ(now->snapshot.sockets.size(), 1u);
  EXPECT_EQ(now->snapshot.PrimaryOwner(now->snapshot.sockets[0])->exe, "/tmp/x/innocent");
  EXPECT_EQ(now->snapshot.PrimaryOwner(now->snapshot.sockets[0])->exe_inode, 22u);
  // The port's history lists both lifetimes, each with its own owner (one pid and start time).
  Result<History> port = PortHistory(db_, 31337, {At(0), At(1)});
  ASSERT_TRUE(port.ok()) << port.error().message;
  ASSERT_EQ(port->snapshot.sockets.size(), 2u);
  EXPECT_EQ(port->snapshot.PrimaryOwner(port->snapshot.sockets[0])->name, "python3");
  EXPECT_EQ(port->snapshot.PrimaryOwner(port->snapshot.sockets[1])->name, "innocent");

  // Unchanged since: nothing more is written.
  const WriteStats same =
      WriteOk(writer, SnapshotBuilder(At(2)).Add(Listener(1, "0.0.0.0", 31337), sleeper).Build());
  EXPECT_EQ(same.owner_changed + same.opened + same.closed, 0u);
  EXPECT_EQ(Count("sockets"), 2);
}

TEST_F(HistoryWriterTest, AnOwnerThatExecedWhileTheAgentWasDownIsSeenAtRestart) {
  Process python = Proc(500, 4200, "python3");
  python.exe_inode = 11;
  {
    Writer writer = NewWriter();
    WriteOk(writer, SnapshotBuilder(At(0)).Add(Listener(1, "0.0.0.0", 31337), python).Build());
  }
  Writer writer = NewWriter();
  const WriteStats stats =
      WriteOk(writer, SnapshotBuilder(At(5))
                          .Add(Listener(1, "0.0.0.0", 31337), Execed(python, "/tmp/x/innocent", 22))
                          .Build());
  EXPECT_EQ(stats.owner_changed, 1u);
  EXPECT_EQ(QueryRows(db_,
                      "SELECT s.opened_at, COALESCE(s.closed_at, -1), p.exe_inode FROM sockets s "
                      "JOIN processes p ON p.id = s.process_id WHERE s.cookie = 1 ORDER BY s.id",
                      3),
            (Rows{{At(0), At(5), 11}, {At(5), -1, 22}}));
}

// A test's own boot: <proc_root>/sys/kernel/random/boot_id says which boot a writer runs in.
WriterOptions InBoot(const TempDir& proc, const std::string& boot_id) {
  proc.WriteFile("sys/kernel/random/boot_id", boot_id + "\n");
  WriterOptions options;
  options.proc_root = proc.path();
  return options;
}

TEST_F(HistoryWriterTest, RowsLeftOpenByAnotherBootAreClosedAtItsLastSampleAndNeverAdopted) {
  TempDir proc;
  const Process sshd = Proc(100, 5000, "sshd");
  {
    Writer writer = NewWriter(InBoot(proc, "0b6b2a7e-3f1c-4c2e-9d55-aaaaaaaaaaaa"));
    WriteOk(writer, Host(0));
    WriteOk(writer, Host(2));  // the last interval that boot recorded
  }
  EXPECT_EQ(QueryRows(db_,
                      "SELECT count(*) FROM meta WHERE key = 'boot_id' AND value = "
                      "'0b6b2a7e-3f1c-4c2e-9d55-aaaaaaaaaaaa'",
                      1),
            (Rows{{1}}));
  const int64_t rows_before = Count("sockets");
  const int64_t sshd_row = RowOf(1);

  // Reboot. Cookies, inodes, pids and start times start over and collide with the old ones: the
  // same listener cookie, the same sshd pid and start time.
  Writer writer = NewWriter(InBoot(proc, "0b6b2a7e-3f1c-4c2e-9d55-bbbbbbbbbbbb"));
  const WriteStats stats =
      WriteOk(writer, SnapshotBuilder(At(9)).Add(Listener(1, "0.0.0.0", 22), sshd).Build());
  EXPECT_EQ(stats.closed, static_cast<size_t>(rows_before));
  EXPECT_EQ(stats.opened, 1u);
  EXPECT_EQ(Count("sockets"), rows_before + 1);
  EXPECT_EQ(Count("sockets", "closed_at = " + std::to_string(At(2))), rows_before)
      << "every row of the old boot closed at its last sample";
  EXPECT_EQ(Count("sockets", "closed_at IS NULL"), 1);
  EXPECT_EQ(QueryInt(db_, "SELECT opened_at FROM sockets WHERE closed_at IS NULL"), At(9));
  EXPECT_NE(QueryInt(db_, "SELECT id FROM sockets WHERE closed_at IS NULL"), sshd_row);
  // The old listeners (sshd's and the resolver's) disappeared when that boot ended; the new
  // one appeared now.
  EXPECT_EQ(QueryRows(db_, "SELECT at, kind FROM listener_events ORDER BY at, id", 2),
            (Rows{{At(0), 1}, {At(0), 1}, {At(2), 2}, {At(2), 2}, {At(9), 1}}));
  // pid + start time + boot id: the new sshd is a process row of its own.
  EXPECT_EQ(Count("processes", "pid = 100 AND start_time = 5000"), 2);
  EXPECT_EQ(QueryRows(db_,
                      "SELECT count(*) FROM meta WHERE key = 'boot_id' AND value = "
                      "'0b6b2a7e-3f1c-4c2e-9d55-bbbbbbbbbbbb'",
                      1),
            (Rows{{1}}));
  // What was open before the old boot's last interval is still answered as it was.
  Result<History> then = StateAt(db_, At(1));
  ASSERT_TRUE(then.ok()) << then.error().message;
  EXPECT_EQ(then->ids.size(), static_cast<size_t>(rows_before));
}

TEST_F(HistoryWriterTest, ARestartInTheSameBootAdoptsItsRows) {
  TempDir proc;
  const std::string boot = "0b6b2a7e-3f1c-4c2e-9d55-cccccccccccc";
  {
    Writer writer = NewWriter(InBoot(proc, boot));
    WriteOk(writer, Host(0));
  }
  const int64_t rows_before = Count("sockets");
  Writer writer = NewWriter(InBoot(proc, boot));
  const WriteStats stats = WriteOk(writer, Host(3));
  EXPECT_EQ(stats.opened + stats.closed + stats.owner_changed, 0u);
  EXPECT_EQ(Count("sockets"), rows_before);
  EXPECT_EQ(Count("processes"), 2);
}

TEST_F(HistoryWriterTest, ListenerAppearedAndDisappearedEvents) {
  Writer writer = NewWriter();
  WriteOk(writer,
          SnapshotBuilder(At(0))
              .Add(Listener(1, "0.0.0.0", 22))
              .Add(Tcp(2, "192.0.2.1", 41000, "198.51.100.4", 443, SocketState::kEstablished))
              .Build());
  WriteOk(writer, SnapshotBuilder(At(1))
                      .Add(Listener(3, "127.0.0.1", 8080))
                      .Add(Udp(4, "0.0.0.0", 5353))
                      .Build());
  WriteOk(writer, SnapshotBuilder(At(2)).Add(Listener(3, "127.0.0.1", 8080)).Build());
  const Rows events = QueryRows(
      db_,
      "SELECT e.at, e.kind, s.cookie FROM listener_events e JOIN sockets s ON s.id = e.socket_id "
      "ORDER BY e.at, e.kind, s.cookie",
      3);
  EXPECT_EQ(events,
            (Rows{{At(0), 1, 1}, {At(1), 1, 3}, {At(1), 1, 4}, {At(1), 2, 1}, {At(2), 2, 4}}));
}

TEST_F(HistoryWriterTest, SocketThatStartsListeningLaterIsAListenerAppearing) {
  // A server binds, the collector sees the bound socket (TCP CLOSE), then it calls listen():
  // same cookie, so a state change, but a listener appeared.
  Writer writer = NewWriter();
  WriteOk(writer, SnapshotBuilder(At(0))
                      .Add(Tcp(1, "0.0.0.0", 9000, "0.0.0.0", 0, SocketState::kClose))
                      .Build());
  WriteOk(writer, SnapshotBuilder(At(1)).Add(Listener(1, "0.0.0.0", 9000)).Build());
  WriteOk(writer, SnapshotBuilder(At(2)).Build());
  const Rows events = QueryRows(db_, "SELECT at, kind FROM listener_events ORDER BY at, kind", 2);
  EXPECT_EQ(events, (Rows{{At(1), 1}, {At(2), 2}}));
}

TEST_F(HistoryWriterTest, SamplesCountEachInterval) {
  Writer writer = NewWriter();
  WriteOk(writer, Host(0));
  WriteOk(writer,
          SnapshotBuilder(At(1))
              .Add(Listener(1, "0.0.0.0", 22))
              .Add(Tcp(2, "192.0.2.1", 22, "203.0.113.7", 50000, SocketState::kEstablished))
              .Add(Tcp(7, "192.0.2.1", 22, "203.0.113.7", 50001, SocketState::kTimeWait))
              .Add(Tcp(8, "2001:db8::1", 41000, "2001:db8::8", 443, SocketState::kEstablished))
              .Add(Tcp(9, "127.0.0.1", 41001, "127.0.0.1", 5432, SocketState::kEstablished))
              .Build());
  const Rows samples = QueryRows(db_,
                                 "SELECT resolution, at, sockets, tcp, udp, raw, packet, "
                                 "listeners, established, time_wait, remote_hosts FROM samples "
                                 "ORDER BY at",
                                 11);
  ASSERT_EQ(samples.size(), 2u);
  // Host(0): 3 tcp (listener, two established), udp, raw, packet; listeners: sshd and the bound
  // UDP resolver; two remote hosts.
  EXPECT_EQ(samples[0], (std::vector<int64_t>{0, At(0), 6, 3, 1, 1, 1, 2, 2, 0, 2}));
  // Two connections to 203.0.113.7 are one remote host; loopback does not count.
  EXPECT_EQ(samples[1], (std::vector<int64_t>{0, At(1), 5, 5, 0, 0, 0, 1, 3, 1, 2}));
}

TEST_F(HistoryWriterTest, RestartAdoptsOpenSocketsAndClosesVanishedOnes) {
  int64_t kept_row = 0;
  int64_t listener_row = 0;
  {
    Writer writer = NewWriter();
    WriteOk(writer, Host(0));
    kept_row = RowOf(3);
    listener_row = RowOf(1);
  }
  // The agent restarts on the same database. Meanwhile the ssh session went away, the browser
  // connection moved to CLOSE_WAIT and a new connection opened.
  Database reopened = OpenOrDie(path_);
  Writer writer = HistoryWriter::Create(reopened);
  ASSERT_TRUE(writer.ok()) << writer.error().message;
  const Process sshd = Proc(100, 5000, "sshd");
  const Process browser = Proc(200, 6000, "firefox");
  Snapshot after =
      SnapshotBuilder(At(5))
          .Add(Listener(1, "0.0.0.0", 22), sshd)
          .Add(Tcp(3, "192.0.2.1", 41000, "198.51.100.4", 443, SocketState::kCloseWait), browser)
          .Add(Udp(4, "127.0.0.53", 53))
          .Add(Raw(5))
          .Add(Packet(6))
          .Add(Tcp(20, "192.0.2.1", 41005, "198.51.100.4", 443, SocketState::kEstablished), browser)
          .Build();
  Result<WriteStats> stats = writer->Write(after);
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  EXPECT_EQ(stats->opened, 1u);
  EXPECT_EQ(stats->closed, 1u);
  EXPECT_EQ(stats->changed, 1u);
  EXPECT_TRUE(stats->keyframe);

  EXPECT_EQ(Count("sockets"), 7);
  EXPECT_EQ(RowOf(3), kept_row);
  EXPECT_EQ(RowOf(1), listener_row);
  EXPECT_EQ(LifetimeOf(3), (std::vector<int64_t>{At(0), -1}));
  EXPECT_EQ(ChangesOf(3), (Rows{{At(5), static_cast<int64_t>(SocketState::kCloseWait)}}));
  EXPECT_EQ(LifetimeOf(2), (std::vector<int64_t>{At(0), At(5)}));
  EXPECT_EQ(LifetimeOf(20), (std::vector<int64_t>{At(5), -1}));
  // The listener was there all along: no second "appeared".
  EXPECT_EQ(Count("listener_events"), 2);
  EXPECT_EQ(Count("processes"), 2);

  // And it carries on from there: an identical interval writes no socket rows.
  const WriteStats next = WriteOk(writer, [&] {
    Snapshot same = after;
    same.taken_at += std::chrono::seconds(1);
    return same;
  }());
  EXPECT_EQ(next.opened + next.closed + next.changed, 0u);
  EXPECT_EQ(Count("sockets"), 7);
}

TEST_F(HistoryWriterTest, RestartClosesAVanishedListenerWithAnEvent) {
  {
    Writer writer = NewWriter();
    WriteOk(writer, SnapshotBuilder(At(0)).Add(Listener(1, "0.0.0.0", 6379)).Build());
  }
  Writer writer = NewWriter();
  const WriteStats stats = WriteOk(writer, SnapshotBuilder(At(9)).Build());
  EXPECT_EQ(stats.closed, 1u);
  EXPECT_EQ(LifetimeOf(1), (std::vector<int64_t>{At(0), At(9)}));
  EXPECT_EQ(QueryRows(db_, "SELECT at, kind FROM listener_events ORDER BY at", 2),
            (Rows{{At(0), 1}, {At(9), 2}}));
}

TEST_F(HistoryWriterTest, RestartAdoptsCookieLessSocketsByTupleAndInode) {
  Socket a = Tcp(0, "192.0.2.1", 41000, "198.51.100.4", 443, SocketState::kEstablished);
  a.inode = 555;
  Socket b = Tcp(0, "192.0.2.1", 41001, "198.51.100.4", 443, SocketState::kEstablished);
  b.inode = 556;
  {
    Writer writer = NewWriter();
    WriteOk(writer, SnapshotBuilder(At(0)).Add(a).Add(b).Build());
  }
  EXPECT_EQ(Count("sockets", "cookie IS NULL"), 2);
  // b's inode changed: a different socket on the same tuple.
  Socket b2 = b;
  b2.inode = 999;
  a.state = SocketState::kFinWait1;
  Writer writer = NewWriter();
  const WriteStats stats = WriteOk(writer, SnapshotBuilder(At(1)).Add(a).Add(b2).Build());
  EXPECT_EQ(stats.opened, 1u);
  EXPECT_EQ(stats.closed, 1u);
  EXPECT_EQ(stats.changed, 1u);
  EXPECT_EQ(Count("sockets"), 3);
  EXPECT_EQ(Count("sockets", "inode = 555 AND closed_at IS NULL"), 1);
  EXPECT_EQ(Count("sockets", "inode = 556 AND closed_at = " + std::to_string(At(1))), 1);
  EXPECT_EQ(Count("sockets", "inode = 999 AND opened_at = " + std::to_string(At(1))), 1);
}

TEST_F(HistoryWriterTest, DuplicateSocketsCostNothingWhileTheyStay) {
  // The /proc fallback can list two entries that look the same.
  const Socket dup = Udp(0, "0.0.0.0", 5353);
  Writer writer = NewWriter();
  WriteOk(writer, SnapshotBuilder(At(0)).Add(dup).Add(dup).Build());
  const int64_t rows = Count("sockets");
  const WriteStats stats = WriteOk(writer, SnapshotBuilder(At(1)).Add(dup).Add(dup).Build());
  EXPECT_EQ(stats.opened + stats.closed + stats.changed, 0u);
  EXPECT_EQ(Count("sockets"), rows);
  EXPECT_EQ(Count("sockets", "closed_at IS NOT NULL"), 0);
}

TEST_F(HistoryWriterTest, RestartClosesEveryVanishedDuplicate) {
  const Socket dup = Udp(0, "0.0.0.0", 5353);
  {
    Writer writer = NewWriter();
    WriteOk(writer, SnapshotBuilder(At(0)).Add(dup).Add(dup).Build());
  }
  ASSERT_EQ(Count("sockets", "closed_at IS NULL"), 2);
  Writer writer = NewWriter();
  WriteOk(writer, SnapshotBuilder(At(1)).Build());
  // Nothing is open on the host any more; no row may stay open for ever.
  EXPECT_EQ(Count("sockets", "closed_at IS NULL"), 0);
}

TEST_F(HistoryWriterTest, RestartAdoptsEveryDuplicateStillPresent) {
  const Socket dup = Udp(0, "0.0.0.0", 5353);
  {
    Writer writer = NewWriter();
    WriteOk(writer, SnapshotBuilder(At(0)).Add(dup).Add(dup).Build());
  }
  Writer writer = NewWriter();
  WriteOk(writer, SnapshotBuilder(At(1)).Add(dup).Add(dup).Build());
  EXPECT_EQ(Count("sockets"), 2);
  EXPECT_EQ(Count("sockets", "closed_at IS NULL"), 2);
}

// Another connection holds the write lock while one interval is written.
TEST_F(HistoryWriterTest, LockedIntervalIsFoldedIntoTheNextWrite) {
  Writer writer = NewWriter();
  WriteOk(writer,
          SnapshotBuilder(At(0))
              .Add(Listener(1, "0.0.0.0", 22))
              .Add(Tcp(2, "192.0.2.1", 41000, "198.51.100.4", 443, SocketState::kEstablished))
              .Add(Tcp(3, "192.0.2.1", 41001, "198.51.100.4", 443, SocketState::kEstablished))
              .Build());
  const auto interval = [](int at) {
    return SnapshotBuilder(At(at))
        .Add(Listener(1, "0.0.0.0", 22))
        .Add(Tcp(2, "192.0.2.1", 41000, "198.51.100.4", 443, SocketState::kCloseWait))
        .Add(Tcp(4, "192.0.2.1", 41002, "198.51.100.4", 443, SocketState::kEstablished));
  };

  Database holder = OpenOrDie(path_);
  db_.SetBusyTimeout(std::chrono::milliseconds(20));
  ASSERT_TRUE(holder.Execute("BEGIN EXCLUSIVE").ok());
  Result<WriteStats> failed = writer->Write(interval(1).Build());
  ASSERT_FALSE(failed.ok());
  EXPECT_FALSE(failed.error().message.empty());
  EXPECT_TRUE(writer->behind());
  ASSERT_TRUE(holder.Execute("ROLLBACK").ok());

  // The next interval also saw socket 5 open.
  const WriteStats stats = WriteOk(
      writer, interval(2)
                  .Add(Tcp(5, "192.0.2.1", 41003, "198.51.100.4", 443, SocketState::kSynSent))
                  .Build());
  EXPECT_FALSE(writer->behind());
  EXPECT_EQ(stats.opened, 2u);
  EXPECT_EQ(stats.closed, 1u);
  EXPECT_EQ(stats.changed, 1u);
  EXPECT_EQ(Count("sockets"), 5);
  EXPECT_EQ(LifetimeOf(3), (std::vector<int64_t>{At(0), At(2)}));
  EXPECT_EQ(LifetimeOf(4), (std::vector<int64_t>{At(2), -1}));
  EXPECT_EQ(LifetimeOf(5), (std::vector<int64_t>{At(2), -1}));
  EXPECT_EQ(ChangesOf(2), (Rows{{At(2), static_cast<int64_t>(SocketState::kCloseWait)}}));
  EXPECT_EQ(Count("samples"), 2);
  EXPECT_EQ(Count("samples", "at = " + std::to_string(At(1))), 0);

  // Then back to normal: nothing more to write.
  const WriteStats quiet = WriteOk(
      writer, interval(3)
                  .Add(Tcp(5, "192.0.2.1", 41003, "198.51.100.4", 443, SocketState::kSynSent))
                  .Build());
  EXPECT_EQ(quiet.opened + quiet.closed + quiet.changed, 0u);
  EXPECT_EQ(Count("sockets"), 5);
}

// The disk fills up in the middle of an interval: what was written of it must be rolled back.
TEST_F(HistoryWriterTest, FullDiskIntervalIsRolledBackAndFoldedIntoTheNextWrite) {
  Writer writer = NewWriter();
  const Process quiet = Proc(400, 1, "quiet");
  WriteOk(writer,
          SnapshotBuilder(At(0))
              .Add(Listener(1, "0.0.0.0", 22), quiet)
              .Add(Tcp(2, "192.0.2.1", 41000, "198.51.100.4", 443, SocketState::kEstablished))
              .Build());
  Process chatty = Proc(401, 2, "chatty");
  chatty.cmdline = std::string(256 * 1024, 'x');  // needs overflow pages the file cannot grow
  const auto interval = [&](int at) {
    return SnapshotBuilder(At(at))
        .Add(Listener(1, "0.0.0.0", 22), quiet)
        .Add(Tcp(2, "192.0.2.1", 41000, "198.51.100.4", 443, SocketState::kFinWait2))
        .Add(Tcp(3, "192.0.2.1", 41001, "198.51.100.4", 443, SocketState::kEstablished), quiet)
        .Add(Listener(4, "0.0.0.0", 8000), chatty)
        .Build();
  };

  const int64_t pages = QueryInt(db_, "PRAGMA page_count");
  ASSERT_TRUE(db_.Execute("PRAGMA max_page_count = " + std::to_string(pages)).ok());
  Result<WriteStats> failed = writer->Write(interval(1));
  ASSERT_FALSE(failed.ok());
  EXPECT_TRUE(writer->behind());
  EXPECT_TRUE(sqlite3_get_autocommit(db_.handle())) << "the failed transaction was left open";
  EXPECT_EQ(Count("sockets"), 2);
  EXPECT_EQ(Count("processes"), 1);
  EXPECT_EQ(Count("state_changes"), 0);
  EXPECT_EQ(Count("listener_events"), 1);

  ASSERT_TRUE(db_.Execute("PRAGMA max_page_count = 1073741823").ok());
  const WriteStats stats = WriteOk(writer, interval(2));
  EXPECT_EQ(stats.opened, 2u);
  EXPECT_EQ(stats.changed, 1u);
  EXPECT_EQ(Count("sockets"), 4);
  EXPECT_EQ(Count("processes"), 2);
  EXPECT_EQ(LifetimeOf(3), (std::vector<int64_t>{At(2), -1}));
  EXPECT_EQ(LifetimeOf(4), (std::vector<int64_t>{At(2), -1}));
  EXPECT_EQ(ChangesOf(2), (Rows{{At(2), static_cast<int64_t>(SocketState::kFinWait2)}}));
  EXPECT_EQ(QueryInt(db_, "SELECT length(cmdline) FROM processes WHERE pid = 401"), 256 * 1024);
  // Socket 3 belongs to the process stored before the failure, not to a rolled-back row.
  EXPECT_EQ(QueryInt(db_, "SELECT process_id FROM sockets WHERE cookie = 3"),
            QueryInt(db_, "SELECT process_id FROM sockets WHERE cookie = 1"));
  EXPECT_EQ(QueryInt(db_,
                     "SELECT p.pid FROM sockets s JOIN processes p ON p.id = s.process_id "
                     "WHERE s.cookie = 4"),
            401);
  EXPECT_EQ(QueryRows(db_, "SELECT at, kind FROM listener_events ORDER BY at, id", 2),
            (Rows{{At(0), 1}, {At(2), 1}}));
}

TEST_F(HistoryWriterTest, FailedFirstWriteIsRetriedWhole) {
  Writer writer = NewWriter();
  Database holder = OpenOrDie(path_);
  db_.SetBusyTimeout(std::chrono::milliseconds(20));
  ASSERT_TRUE(holder.Execute("BEGIN EXCLUSIVE").ok());
  ASSERT_TRUE(writer.ok());
  EXPECT_FALSE(writer->Write(Host(0)).ok());
  EXPECT_TRUE(writer->behind());
  ASSERT_TRUE(holder.Execute("ROLLBACK").ok());
  const WriteStats stats = WriteOk(writer, Host(1));
  EXPECT_EQ(stats.opened, 6u);
  EXPECT_TRUE(stats.keyframe);
  EXPECT_EQ(Count("sockets", "opened_at = " + std::to_string(At(1))), 6);
}

TEST_F(HistoryWriterTest, KeyframesFollowTheInterval) {
  Writer writer = NewWriter({.keyframe_interval = std::chrono::milliseconds(3 * kStep)});
  std::vector<bool> keyframes;
  for (int i = 0; i < 8; ++i) keyframes.push_back(WriteOk(writer, Host(i)).keyframe);
  EXPECT_THAT(keyframes, ElementsAre(true, false, false, true, false, false, true, false));
  EXPECT_EQ(QueryRows(db_, "SELECT at FROM keyframes ORDER BY at", 1),
            (Rows{{At(0)}, {At(3)}, {At(6)}}));
}

}  // namespace
}  // namespace portwatch::store
