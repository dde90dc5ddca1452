// End-to-end tests of `portwatch record` and `portwatch history` against sockets the test opens.
//
// Each test moves itself into a network namespace of its own when it may (as root), so that the
// recording holds only its sockets; elsewhere it records the host's, and finds its own by inode.
// The recorder runs as a child of the test, which opens and closes sockets while it records.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/support/namespaces.h"
#include "tests/support/portwatch_cli.h"
#include "tests/support/recording.h"
#include "tests/support/sockets.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait_for.h"

namespace portwatch::agent {
namespace {

using nlohmann::json;
using portwatch::testing::Accept;
using portwatch::testing::CloseWithReset;
using portwatch::testing::CommandResult;
using portwatch::testing::ConnectLoopback;
using portwatch::testing::Describe;
using portwatch::testing::ExpectJsonArray;
using portwatch::testing::FindInode;
using portwatch::testing::Lines;
using portwatch::testing::Listen;
using portwatch::testing::OwnNamespaces;
using portwatch::testing::Portwatch;
using portwatch::testing::Recording;
using portwatch::testing::SampleTimes;
using portwatch::testing::TempDir;
using portwatch::testing::TestSocket;
using portwatch::testing::WaitFor;
using Clock = std::chrono::system_clock;

// The keys of every `snapshot --json` object, from the README (protocol_number is only for raw
// and packet sockets), and the three a history row adds.
const std::vector<std::string> kSnapshotKeys = {
    "proto",       "family",       "state",         "local_addr", "local_port",   "remote_addr",
    "remote_port", "inode",        "cookie",        "uid",        "netns",        "rx_queue",
    "tx_queue",    "v6only",       "interface",     "pid",        "ppid",         "process",
    "exe",         "exe_deleted",  "cmdline",       "user",       "owner_status", "owners",
    "service",     "service_port", "port_category", "exposure",   "direction",    "remote_class"};
const std::vector<std::string> kLifetimeKeys = {"id", "opened_at", "closed_at"};

int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
      .count();
}

// The whole second of unix_ms as strftime writes it with format, in UTC or in local time.
std::string FormatTime(int64_t unix_ms, const char* format, bool utc) {
  const time_t seconds = static_cast<time_t>(unix_ms / 1000);
  std::tm tm{};
  if (utc) {
    gmtime_r(&seconds, &tm);
  } else {
    localtime_r(&seconds, &tm);
  }
  char text[32];
  std::strftime(text, sizeof(text), format, &tm);
  return text;
}

// 2026-11-24T03:10:00Z: ISO 8601 in UTC, whole seconds.
std::string IsoUtc(int64_t unix_ms) { return FormatTime(unix_ms, "%Y-%m-%dT%H:%M:%SZ", true); }

// The local time as the history tables print it (the child shares our time zone).
std::string LocalTime(int64_t unix_ms) { return FormatTime(unix_ms, "%Y-%m-%d %H:%M:%S", false); }

void SleepUntil(int64_t unix_ms) {
  const int64_t wait = unix_ms - NowMillis();
  if (wait > 0) std::this_thread::sleep_for(std::chrono::milliseconds(wait));
}

std::string MissingKeys(const json& row, const std::vector<std::string>& keys) {
  std::string missing;
  for (const std::string& key : keys) {
    if (!row.contains(key)) missing += " " + key;
  }
  return missing;
}

// A usage error: exit 2, one line on stderr naming the problem, nothing on stdout.
void ExpectUsageError(const CommandResult& result, const std::vector<std::string>& named) {
  EXPECT_EQ(result.exit_code, 2) << Describe(result);
  EXPECT_EQ(result.out, "") << Describe(result);
  EXPECT_EQ(Lines(result.err).size(), 1u) << Describe(result);
  EXPECT_TRUE(result.err.ends_with("\n")) << Describe(result);
  for (const std::string& word : named) {
    EXPECT_NE(result.err.find(word), std::string::npos) << "stderr should name " << word << "\n"
                                                        << Describe(result);
  }
}

// A socket of the recording, known after the test closed it.
struct Known {
  uint16_t port = 0;
  uint64_t inode = 0;
};

// One recording with a listener on 0.0.0.0 and a loopback connection to it: both open when it
// starts, the connection closed in the middle and the listener a little later. Recorded once for
// the whole suite; each test asks its own question about it.
class RecordedHistory : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    namespace_ = std::make_unique<OwnNamespaces>(OwnNamespaces::Scope::kNetwork);
    dir_ = std::make_unique<TempDir>();
    db_ = dir_->path() + "/history.db";
    TestSocket listener = Listen(AF_INET, "0.0.0.0");
    TestSocket client = ConnectLoopback(listener.port);
    TestSocket server = Accept(listener);
    listener_ = {listener.port, listener.inode};
    client_ = {client.port, client.inode};
    server_ = {server.port, server.inode};

    Recording record(*dir_, {"--db", db_, "--for", "3s", "--interval", "200ms"});
    // 1. A whole second after the first committed interval, while everything is still open: the
    //    moment --at asks about. Then the connection closes, and 400 ms later the listener.
    if (!WaitFor([] { return !SampleTimes(db_).empty(); }, std::chrono::seconds(2))) {
      setup_failure_ = "no interval was committed within 2 s:\n" + record.Stderr();
      return;
    }
    middle_ms_ = (NowMillis() / 1000 + 1) * 1000;
    SleepUntil(middle_ms_ + 300);
    CloseWithReset(client.fd);
    CloseWithReset(server.fd);
    connection_closed_ms_ = NowMillis();
    SleepUntil(connection_closed_ms_ + 400);
    CloseWithReset(listener.fd);
    listener_closed_ms_ = NowMillis();
    // 2. The second --at moment: a whole second at least one second (five intervals) after the
    //    close, so the recorder has noticed it by then.
    after_ms_ = (connection_closed_ms_ / 1000 + 2) * 1000;
    record_exit_ = record.Wait(std::chrono::seconds(10));
    record_stderr_ = record.Stderr();
  }
  static void TearDownTestSuite() {
    dir_.reset();
    namespace_.reset();
  }

  void SetUp() override {
    ASSERT_EQ(setup_failure_, "");
    if (!namespace_->entered()) std::cerr << "note: recorded the host's network namespace\n";
  }

  static CommandResult History(std::vector<std::string> args) {
    args.insert(args.begin(), {"history", "--db", db_});
    return Portwatch(args);
  }
  static json HistoryJson(std::vector<std::string> args) {
    args.push_back("--json");
    return ExpectJsonArray(History(args));
  }

  static inline std::unique_ptr<OwnNamespaces> namespace_;
  static inline std::unique_ptr<TempDir> dir_;
  static inline std::string db_;
  static inline std::string setup_failure_;
  static inline Known listener_, client_, server_;
  static inline int64_t middle_ms_ = 0, connection_closed_ms_ = 0, listener_closed_ms_ = 0,
                        after_ms_ = 0;
  static inline int record_exit_ = -1;
  static inline std::string record_stderr_;
};

TEST_F(RecordedHistory, RecordRunsForItsDurationAndSaysWhatItWrote) {
  EXPECT_EQ(record_exit_, 0) << record_stderr_;
  EXPECT_NE(record_stderr_.find("intervals written to " + db_), std::string::npos)
      << record_stderr_;
  EXPECT_EQ(record_stderr_.find("could not be written"), std::string::npos) << record_stderr_;
  // 3 s at 200 ms: about 15 intervals, each with its sample; a loaded machine may manage fewer.
  const std::vector<int64_t> samples = SampleTimes(db_);
  EXPECT_GE(samples.size(), 8u);
  EXPECT_LE(samples.size(), 16u);
}

TEST_F(RecordedHistory, EventsShowTheListenerAppearingAndDisappearing) {
  const json events = HistoryJson({"--events", "--since", "1h"});
  std::optional<int64_t> appeared;
  std::optional<int64_t> disappeared;
  for (const json& event : events) {
    if (event.value("inode", uint64_t{0}) != listener_.inode) continue;
    EXPECT_EQ(event.value("local_port", 0), listener_.port) << event.dump();
    EXPECT_EQ(event.value("state", ""), "LISTEN") << event.dump();
    EXPECT_EQ(event.value("exposure", ""), "all") << event.dump();
    const std::string kind = event.value("event", "");
    if (kind == "appeared") {
      EXPECT_FALSE(appeared) << "appeared twice: " << events.dump();
      appeared = event.value("at", int64_t{0});
    } else if (kind == "disappeared") {
      EXPECT_FALSE(disappeared) << "disappeared twice: " << events.dump();
      disappeared = event.value("at", int64_t{0});
    } else {
      ADD_FAILURE() << "unknown event: " << event.dump();
    }
  }
  ASSERT_TRUE(appeared) << events.dump();
  ASSERT_TRUE(disappeared) << events.dump();
  EXPECT_LE(*appeared, middle_ms_);
  EXPECT_GE(*disappeared, listener_closed_ms_);

  // The table says the same, appearance first.
  const CommandResult table = History({"--events", "--since", "1h"});
  ASSERT_EQ(table.exit_code, 0) << Describe(table);
  const std::string local = "0.0.0.0:" + std::to_string(listener_.port) + " ";
  int appeared_line = -1;
  int disappeared_line = -1;
  const std::vector<std::string> lines = Lines(table.out);
  for (int i = 0; i < static_cast<int>(lines.size()); ++i) {
    if (lines[i].find(local) == std::string::npos) continue;
    if (lines[i].find(" disappeared ") != std::string::npos) {
      disappeared_line = i;
    } else if (lines[i].find(" appeared ") != std::string::npos) {
      appeared_line = i;
    }
  }
  EXPECT_GE(appeared_line, 1) << table.out;
  EXPECT_GT(disappeared_line, appeared_line) << table.out;
}

TEST_F(RecordedHistory, PortShowsTheListenerAndTheConnectionWithTheirLifetimes) {
  const json rows = HistoryJson({"--port", std::to_string(listener_.port), "--since", "1h"});
  for (const auto& [name, known] : {std::pair{"listener", listener_}, std::pair{"client", client_},
                                    std::pair{"server", server_}}) {
    SCOPED_TRACE(name);
    const json row = FindInode(rows, known.inode);
    ASSERT_FALSE(row.is_null()) << rows.dump();
    EXPECT_EQ(MissingKeys(row, kLifetimeKeys), "") << row.dump();
    EXPECT_GT(row.value("id", int64_t{0}), 0) << row.dump();
    ASSERT_TRUE(row["opened_at"].is_number()) << row.dump();
    ASSERT_TRUE(row["closed_at"].is_number()) << "closed while recording: " << row.dump();
    EXPECT_LE(row["opened_at"].get<int64_t>(), middle_ms_) << row.dump();
    EXPECT_GT(row["closed_at"].get<int64_t>(), middle_ms_) << row.dump();
    EXPECT_GE(row["closed_at"].get<int64_t>(), connection_closed_ms_) << row.dump();
  }
  const json listener = FindInode(rows, listener_.inode);
  EXPECT_EQ(listener.value("state", ""), "LISTEN");
  EXPECT_EQ(listener.value("local_addr", ""), "0.0.0.0");
  EXPECT_EQ(listener.value("pid", 0), getpid()) << "the owner is recorded: " << listener.dump();
  EXPECT_GE(listener.value("closed_at", int64_t{0}), listener_closed_ms_);
  const json client = FindInode(rows, client_.inode);
  EXPECT_EQ(client.value("remote_port", 0), listener_.port);
  EXPECT_EQ(client.value("remote_addr", ""), "127.0.0.1");

  // The table puts OPENED and CLOSED in front of each row; none of ours is still open.
  const CommandResult table = History({"--port", std::to_string(listener_.port), "--since", "1h"});
  ASSERT_EQ(table.exit_code, 0) << Describe(table);
  const std::vector<std::string> lines = Lines(table.out);
  ASSERT_FALSE(lines.empty());
  EXPECT_TRUE(lines[0].starts_with("ID")) << table.out;
  EXPECT_NE(lines[0].find("OPENED"), std::string::npos) << table.out;
  EXPECT_NE(lines[0].find("CLOSED"), std::string::npos) << table.out;
  const std::string row_start = std::to_string(listener.value("id", int64_t{0})) + " ";
  std::string listener_line;
  for (const std::string& line : lines) {
    if (line.starts_with(row_start)) listener_line = line;
  }
  EXPECT_NE(listener_line.find(LocalTime(listener.value("opened_at", int64_t{0}))),
            std::string::npos)
      << table.out;
  EXPECT_NE(listener_line.find(LocalTime(listener.value("closed_at", int64_t{0}))),
            std::string::npos)
      << table.out;
  EXPECT_NE(listener_line.find("0.0.0.0:" + std::to_string(listener_.port)), std::string::npos)
      << table.out;
}

TEST_F(RecordedHistory, AtAMomentInTheMiddleShowsTheConnectionOpen) {
  const json rows = HistoryJson({"--at", IsoUtc(middle_ms_)});
  for (const auto& [name, known] : {std::pair{"listener", listener_}, std::pair{"client", client_},
                                    std::pair{"server", server_}}) {
    SCOPED_TRACE(name);
    const json row = FindInode(rows, known.inode);
    ASSERT_FALSE(row.is_null()) << IsoUtc(middle_ms_) << ": " << rows.dump();
    EXPECT_EQ(MissingKeys(row, kSnapshotKeys), "") << row.dump();
  }
  EXPECT_EQ(FindInode(rows, client_.inode).value("state", ""), "ESTABLISHED");
}

TEST_F(RecordedHistory, AtAMomentAfterTheCloseDoesNotShowTheConnection) {
  const json rows = HistoryJson({"--at", IsoUtc(after_ms_)});
  EXPECT_TRUE(FindInode(rows, client_.inode).is_null()) << IsoUtc(after_ms_) << ": " << rows.dump();
  EXPECT_TRUE(FindInode(rows, server_.inode).is_null()) << IsoUtc(after_ms_) << ": " << rows.dump();
}

TEST_F(RecordedHistory, RemoteBlockListsTheLoopbackConnectionAsJsonWithLifetimes) {
  const json rows = HistoryJson({"--remote", "127.0.0.0/8", "--since", "1h"});
  EXPECT_FALSE(FindInode(rows, client_.inode).is_null()) << rows.dump();
  EXPECT_FALSE(FindInode(rows, server_.inode).is_null()) << rows.dump();
  EXPECT_TRUE(FindInode(rows, listener_.inode).is_null()) << "a listener has no remote address";
  for (const json& row : rows) {
    EXPECT_EQ(MissingKeys(row, kSnapshotKeys), "") << row.dump();
    EXPECT_EQ(MissingKeys(row, kLifetimeKeys), "") << row.dump();
    EXPECT_TRUE(row.value("remote_addr", "").starts_with("127.")) << row.dump();
  }
}

TEST_F(RecordedHistory, SocketPrintsOneSocketsLifetime) {
  const json port_rows = HistoryJson({"--port", std::to_string(listener_.port), "--since", "1h"});
  const json listener = FindInode(port_rows, listener_.inode);
  ASSERT_TRUE(listener["id"].is_number()) << port_rows.dump();
  const std::string id = std::to_string(listener["id"].get<int64_t>());

  const json rows = HistoryJson({"--socket", id});
  ASSERT_EQ(rows.size(), 1u) << rows.dump();
  EXPECT_EQ(rows[0].value("inode", uint64_t{0}), listener_.inode);
  EXPECT_EQ(rows[0]["opened_at"], listener["opened_at"]);
  EXPECT_EQ(rows[0]["closed_at"], listener["closed_at"]);

  // The table: the socket's row, then its states with their times, the opening one first.
  const CommandResult table = History({"--socket", id});
  ASSERT_EQ(table.exit_code, 0) << Describe(table);
  const std::vector<std::string> lines = Lines(table.out);
  ASSERT_GE(lines.size(), 3u) << table.out;
  EXPECT_NE(lines[0].find("OPENED"), std::string::npos) << table.out;
  EXPECT_TRUE(lines[1].starts_with(id + " ")) << table.out;
  EXPECT_NE(lines[1].find(LocalTime(listener["closed_at"].get<int64_t>())), std::string::npos)
      << table.out;
  EXPECT_EQ(lines[2], "  " + LocalTime(listener["opened_at"].get<int64_t>()) + "  LISTEN")
      << table.out;
}

TEST_F(RecordedHistory, BadInputExitsTwoWithOneLineNamingTheProblem) {
  const struct {
    std::vector<std::string> args;
    std::vector<std::string> named;
  } cases[] = {
      {{"--at", "yesterdayy"}, {"--at", "yesterdayy"}},
      {{"--at", "2026-02-31"}, {"--at", "2026-02-31"}},
      {{"--remote", "10.0.0.1/8"}, {"--remote", "10.0.0.1/8"}},
      {{"--remote", "999.1.1.1"}, {"--remote", "999.1.1.1"}},
      {{"--events", "--since", "5x"}, {"--since", "5x"}},
      {{"--events", "--since", "1h", "--until", "-2h"}, {"--since", "--until"}},
      {{"--port", "70000"}, {"--port", "70000"}},
      {{"--port", "80", "--events"}, {"--port", "--events"}},
      {{}, {"--at", "--remote", "--port", "--events", "--socket"}},
  };
  for (const auto& [args, named] : cases) {
    std::string shown;
    for (const std::string& arg : args) shown += " " + arg;
    SCOPED_TRACE("history" + shown);
    ExpectUsageError(History(args), named);
  }
}

TEST(HistoryCommand, MissingDatabaseExitsThreeAndSaysToRecordFirst) {
  TempDir dir;
  const std::string missing = dir.path() + "/none.db";
  const CommandResult result = Portwatch({"history", "--db", missing, "--events"});
  EXPECT_EQ(result.exit_code, 3) << Describe(result);
  EXPECT_EQ(result.out, "") << Describe(result);
  EXPECT_EQ(Lines(result.err).size(), 1u) << Describe(result);
  EXPECT_NE(result.err.find("portwatch record"), std::string::npos) << Describe(result);
  EXPECT_NE(result.err.find(missing), std::string::npos) << Describe(result);
  EXPECT_FALSE(std::filesystem::exists(missing)) << "history must not create the database";
}

TEST(RecordCommand, RecordsANetworkNamespaceWithoutSockets) {
  OwnNamespaces empty(OwnNamespaces::Scope::kNetwork);
  if (!empty.entered()) GTEST_SKIP() << "needs root for a network namespace";
  TempDir dir;
  const std::string db = dir.path() + "/empty.db";
  Recording record(dir, {"--db", db, "--for", "1s", "--interval", "200ms"});
  EXPECT_EQ(record.Wait(std::chrono::seconds(10)), 0) << record.Stderr();
  EXPECT_EQ(record.Stderr().find("cannot write"), std::string::npos) << record.Stderr();
  EXPECT_GE(SampleTimes(db).size(), 3u) << record.Stderr();
  const CommandResult now = Portwatch({"history", "--db", db, "--at", "now", "--json"});
  EXPECT_EQ(now.exit_code, 0) << Describe(now);
  EXPECT_EQ(now.out.find("\"inode\""), std::string::npos) << "no sockets: " << Describe(now);
}

// The attack of issue 16, end to end: a python3 listener execs into a copy of sleep in a temp
// directory while `portwatch record` runs. The history shows python3 as the owner until the exec
// and the copy after it: `--port` lists the listener twice (one row per owner, the first closed
// when the second opens), `--at` names the owner of each moment and `--socket` the row's owner.
TEST(RecordCommand, HistoryShowsTheNewOwnerOfAListenerWhoseOwnerExeced) {
  OwnNamespaces own(OwnNamespaces::Scope::kNetwork);
  if (!std::filesystem::exists("/usr/bin/python3")) GTEST_SKIP() << "needs /usr/bin/python3";
  TempDir dir;
  const std::string copy = dir.path() + "/innocent";
  std::filesystem::copy_file("/bin/sleep", copy);
  std::filesystem::permissions(copy, std::filesystem::perms::owner_all);
  const std::string db = dir.path() + "/history.db";

  TestSocket listener = Listen(AF_INET, "0.0.0.0");
  int go[2];
  ASSERT_EQ(pipe2(go, O_CLOEXEC), 0);
  // python3 holds the listener and, when told, execs into the copy keeping it.
  const std::string script =
      "import os, sys\n"
      "fd, go = int(sys.argv[1]), int(sys.argv[2])\n"
      "os.read(go, 1)\n"
      "os.set_inheritable(fd, True)\n"
      "os.execv(sys.argv[3], [sys.argv[3], '1000'])\n";
  std::unique_ptr<portwatch::testing::ChildProcess> python = portwatch::testing::ChildProcess::Exec(
      {"/usr/bin/python3", "-c", script, std::to_string(listener.fd.get()), std::to_string(go[0]),
       copy},
      {listener.fd.get(), go[0]});
  listener.fd.Reset();
  close(go[0]);

  Recording record(dir, {"--db", db, "--for", "5s", "--interval", "200ms"});
  ASSERT_TRUE(WaitFor([&] { return !SampleTimes(db).empty(); }, std::chrono::seconds(3)))
      << record.Stderr();
  const int64_t before_ms = (NowMillis() / 1000 + 1) * 1000;
  SleepUntil(before_ms + 400);
  ASSERT_EQ(write(go[1], "x", 1), 1);
  close(go[1]);
  const std::string exe_link = "/proc/" + std::to_string(python->pid()) + "/exe";
  ASSERT_TRUE(WaitFor(
      [&] {
        std::error_code error;
        return std::filesystem::read_symlink(exe_link, error) == copy;
      },
      std::chrono::seconds(5)));
  const int64_t execed_ms = NowMillis();
  const int64_t after_ms = (execed_ms / 1000 + 2) * 1000;
  ASSERT_EQ(record.Wait(std::chrono::seconds(15)), 0) << record.Stderr();
  ASSERT_GT(SampleTimes(db).back(), after_ms) << "the recording ended too early";

  const auto history = [&db](std::vector<std::string> args) {
    args.insert(args.begin(), {"history", "--db", db});
    args.push_back("--json");
    return ExpectJsonArray(Portwatch(args));
  };
  std::vector<json> rows;
  for (const json& row : history({"--port", std::to_string(listener.port), "--since", "1h"})) {
    if (row.value("inode", uint64_t{0}) == listener.inode) rows.push_back(row);
  }
  ASSERT_EQ(rows.size(), 2u) << "one row per owner";
  EXPECT_EQ(rows[0].value("pid", 0), python->pid());
  EXPECT_EQ(rows[1].value("pid", 0), python->pid());
  EXPECT_TRUE(rows[0].value("exe", "").starts_with("/usr/bin/python3")) << rows[0].dump();
  EXPECT_EQ(rows[1].value("exe", ""), copy) << rows[1].dump();
  EXPECT_EQ(rows[1].value("process", ""), "innocent") << rows[1].dump();
  ASSERT_TRUE(rows[0]["closed_at"].is_number()) << rows[0].dump();
  EXPECT_EQ(rows[0]["closed_at"], rows[1]["opened_at"]) << "the new owner takes over";
  EXPECT_GE(rows[0]["closed_at"].get<int64_t>(), before_ms);
  EXPECT_LE(rows[0]["closed_at"].get<int64_t>(), execed_ms + 1000) << "within a few intervals";

  const json then = FindInode(history({"--at", IsoUtc(before_ms)}), listener.inode);
  EXPECT_TRUE(then.value("exe", "").starts_with("/usr/bin/python3")) << then.dump();
  const json now = FindInode(history({"--at", IsoUtc(after_ms)}), listener.inode);
  EXPECT_EQ(now.value("exe", ""), copy) << now.dump();
  const json socket = history({"--socket", std::to_string(rows[1].value("id", int64_t{0}))});
  ASSERT_EQ(socket.size(), 1u) << socket.dump();
  EXPECT_EQ(socket[0].value("exe", ""), copy) << socket.dump();
}

}  // namespace
}  // namespace portwatch::agent
