// End-to-end tests of `portwatch record` when its database fails under it: the process killed,
// the disk full, the file read-only, locked by another process, or not a portwatch database.
//
// Each test that records moves into network (and, for mounts, mount) namespaces of its own when it
// may, so the recording holds only its sockets and a tmpfs it mounts disappears with it even if
// the test crashes. The database is read back through the SQLite API, independently of portwatch.

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <linux/fs.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/namespaces.h"
#include "tests/support/portwatch_cli.h"
#include "tests/support/receiver.h"
#include "tests/support/recording.h"
#include "tests/support/sockets.h"
#include "tests/support/sqlite.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait_for.h"

namespace portwatch::agent {
namespace {

using portwatch::testing::BindTo;
using portwatch::testing::CommandResult;
using portwatch::testing::Describe;
using portwatch::testing::Lines;
using portwatch::testing::Listen;
using portwatch::testing::OwnNamespaces;
using portwatch::testing::Portwatch;
using portwatch::testing::Receiver;
using portwatch::testing::Recording;
using portwatch::testing::SampleTimes;
using portwatch::testing::Sqlite;
using portwatch::testing::TempDir;
using portwatch::testing::TestSocket;
using portwatch::testing::WaitFor;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

size_t LinesMatching(const std::string& text, const std::regex& pattern) {
  const std::vector<std::string> lines = Lines(text);
  return static_cast<size_t>(std::count_if(lines.begin(), lines.end(), [&](const std::string& l) {
    return std::regex_search(l, pattern);
  }));
}

std::string ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(file), {});
}

// Every file in a directory with its contents, to show that nothing was changed, added or removed.
std::map<std::string, std::string> DirectoryContents(const std::string& dir) {
  std::map<std::string, std::string> contents;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.is_regular_file()) contents[entry.path().filename()] = ReadFile(entry.path());
  }
  return contents;
}

std::string Names(const std::map<std::string, std::string>& contents) {
  std::string names;
  for (const auto& [name, content] : contents) {
    names += " " + name + "(" + std::to_string(content.size()) + " bytes)";
  }
  return names;
}

// A child process running `body` until it is killed (the destructor kills and reaps it).
class Background {
 public:
  explicit Background(const std::function<void()>& body) : pid_(fork()) {
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      body();
      _exit(0);
    }
    EXPECT_GT(pid_, 0);
  }
  ~Background() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  void Pause() const { kill(pid_, SIGSTOP); }

 private:
  pid_t pid_;
};

// Opens TCP listeners on loopback, `per_tick` every 50 ms, keeping the newest `keep` (all of them
// when keep is 0, up to 900): every interval the recorder writes new rows.
void OpenListenersForever(int per_tick, size_t keep) {
  std::deque<int> open;
  for (;;) {
    for (int i = 0; i < per_tick; ++i) {
      if (keep == 0 && open.size() >= 900) break;
      const int fd = socket(AF_INET, SOCK_STREAM, 0);
      if (fd < 0 || !BindTo(fd, AF_INET, "127.0.0.1", 0) || listen(fd, 1) != 0) _exit(1);
      open.push_back(fd);
      if (keep != 0 && open.size() > keep) {
        close(open.front());
        open.pop_front();
      }
    }
    usleep(50 * 1000);
  }
}

// PRAGMA integrity_check and foreign_key_check, read-only: "ok" for a sound database.
std::string CheckDatabase(const std::string& path) {
  Sqlite db(path, SQLITE_OPEN_READONLY);
  if (!db.ok()) return "cannot open";
  const auto integrity = db.Column("PRAGMA integrity_check");
  if (!integrity) return "integrity_check failed to run";
  if (*integrity != std::vector<std::string>{"ok"}) return "integrity_check: " + integrity->at(0);
  const auto dangling = db.Column("PRAGMA foreign_key_check");
  if (!dangling) return "foreign_key_check failed to run";
  if (!dangling->empty()) return "foreign_key_check: a row of " + dangling->at(0) + " dangles";
  return "ok";
}

// The samples of `before` that `after` lacks, for failure messages; "" when none is lost.
std::string LostSamples(const std::vector<int64_t>& before, const std::vector<int64_t>& after) {
  std::string lost;
  for (const int64_t at : before) {
    if (!std::binary_search(after.begin(), after.end(), at)) lost += " " + std::to_string(at);
  }
  return lost;
}

// The number in record's closing "..., N could not be written", 0 when it has none.
int FailedIntervals(const std::string& err) {
  std::smatch match;
  if (!std::regex_search(err, match, std::regex(R"((\d+) could not be written)"))) return 0;
  return std::stoi(match[1]);
}

// A tmpfs mounted on a fresh directory, unmounted on scope exit (and, being in the test's own
// mount namespace, gone with the test process in any case).
class Tmpfs {
 public:
  Tmpfs(std::string dir, const std::string& options) : dir_(std::move(dir)) {
    std::filesystem::create_directories(dir_);
    mounted_ = mount("tmpfs", dir_.c_str(), "tmpfs", 0, options.c_str()) == 0;
  }
  ~Tmpfs() {
    if (mounted_) umount2(dir_.c_str(), MNT_DETACH);
  }
  Tmpfs(const Tmpfs&) = delete;
  Tmpfs& operator=(const Tmpfs&) = delete;

  bool mounted() const { return mounted_; }
  bool RemountReadOnly() const {
    return mount(nullptr, dir_.c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr) == 0;
  }

 private:
  std::string dir_;
  bool mounted_ = false;
};

// Sets the immutable attribute (chattr +i: not even root may write) on a file, cleared on scope
// exit so the temporary directory can be removed.
class Immutable {
 public:
  explicit Immutable(const std::string& path) : fd_(open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
    if (fd_ < 0 || ioctl(fd_, FS_IOC_GETFLAGS, &flags_) != 0) return;
    int immutable = flags_ | FS_IMMUTABLE_FL;
    set_ = ioctl(fd_, FS_IOC_SETFLAGS, &immutable) == 0;
  }
  ~Immutable() {
    if (set_) ioctl(fd_, FS_IOC_SETFLAGS, &flags_);
    if (fd_ >= 0) close(fd_);
  }
  Immutable(const Immutable&) = delete;
  Immutable& operator=(const Immutable&) = delete;

  bool set() const { return set_; }

 private:
  int fd_;
  int flags_ = 0;
  bool set_ = false;
};

// A database recorded for a moment and left as record leaves it (not opened since: a reader would
// leave -wal and -shm files behind).
void RecordBriefly(const TempDir& dir, const std::string& db) {
  Recording record(dir, {"--db", db, "--for", "600ms", "--interval", "100ms"});
  ASSERT_EQ(record.Wait(seconds(10)), 0) << record.Stderr();
  ASSERT_TRUE(std::regex_search(record.Stderr(), std::regex("[1-9][0-9]* intervals written")))
      << record.Stderr();
}

TEST(RecordFailure, KillNineLeavesASoundDatabaseAndKeepsEveryCommittedInterval) {
  OwnNamespaces own(OwnNamespaces::Scope::kNetwork);
  TempDir dir;
  const std::string db = dir.path() + "/history.db";
  // Sockets opening and closing all the time, so that the kills land in the middle of writes.
  Background churn([] { OpenListenersForever(2, 40); });
  const unsigned seed = std::random_device()();
  SCOPED_TRACE("seed " + std::to_string(seed) + (own.entered() ? "" : ", host namespace"));
  std::mt19937 random(seed);
  std::uniform_int_distribution<int> delay_ms(50, 700);

  std::vector<int64_t> committed;
  for (int round = 0; round < 10; ++round) {
    const int delay = delay_ms(random);
    SCOPED_TRACE("round " + std::to_string(round) + ", killed after " + std::to_string(delay) +
                 " ms");
    {
      Recording record(dir, {"--db", db, "--interval", "100ms"});
      std::this_thread::sleep_for(milliseconds(delay));
      record.Signal(SIGKILL);
      const int status = record.WaitStatus(seconds(5));
      if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
        ADD_FAILURE() << "record ended before the kill: " << record.Stderr();
      }
    }
    if (!std::filesystem::exists(db)) continue;  // killed before it created the file
    EXPECT_EQ(CheckDatabase(db), "ok");
    const std::vector<int64_t> samples = SampleTimes(db);
    EXPECT_GE(samples.size(), committed.size());
    EXPECT_EQ(LostSamples(committed, samples), "");
    committed = samples;
    if (samples.empty()) continue;
    const CommandResult now = Portwatch({"history", "--db", db, "--at", "now", "--json"});
    EXPECT_EQ(now.exit_code, 0) << Describe(now);
    EXPECT_TRUE(now.out.starts_with("[")) << Describe(now);
    const CommandResult events = Portwatch({"history", "--db", db, "--events", "--since", "1h"});
    EXPECT_EQ(events.exit_code, 0) << Describe(events);
  }
  EXPECT_FALSE(committed.empty()) << "no round committed an interval";

  // After every kill, the next recorder picks the database up and goes on writing.
  Recording record(dir, {"--db", db, "--for", "1s", "--interval", "100ms"});
  EXPECT_EQ(record.Wait(seconds(10)), 0) << record.Stderr();
  const std::vector<int64_t> samples = SampleTimes(db);
  EXPECT_GT(samples.size(), committed.size()) << record.Stderr();
  EXPECT_EQ(LostSamples(committed, samples), "");
  EXPECT_EQ(CheckDatabase(db), "ok");
}

TEST(RecordFailure, FullDiskIsReportedOnceAndWritingResumesWhenSpaceReturns) {
  OwnNamespaces own(OwnNamespaces::Scope::kNetworkAndMounts);
  if (!own.entered()) GTEST_SKIP() << "needs root for mount and network namespaces";
  TempDir dir;
  Tmpfs disk(dir.path() + "/fs", "size=600k");
  ASSERT_TRUE(disk.mounted()) << "cannot mount a tmpfs: " << std::strerror(errno);
  // Most of the disk goes to a filler file, to be deleted later: what is left fills in seconds.
  const std::string filler = dir.path() + "/fs/filler";
  std::ofstream(filler, std::ios::binary) << std::string(300 * 1024, 'x');
  ASSERT_EQ(std::filesystem::file_size(filler), 300u * 1024u);
  const std::string db = dir.path() + "/fs/history.db";
  const TestSocket something_to_record = Listen(AF_INET, "127.0.0.1");
  Background growth([] { OpenListenersForever(8, 0); });

  Recording record(dir, {"--db", db, "--interval", "100ms"});
  ASSERT_TRUE(WaitFor([&] { return !SampleTimes(db).empty(); }, seconds(5))) << record.Stderr();
  const std::regex write_error("full|disk|no space", std::regex::icase);
  ASSERT_TRUE(WaitFor([&] { return LinesMatching(record.Stderr(), write_error) > 0; }, seconds(15)))
      << "the disk never filled up; db has " << SampleTimes(db).size() << " samples\n"
      << record.Stderr();
  growth.Pause();
  const std::vector<int64_t> when_full = SampleTimes(db);

  // 1. Full for a second (about ten intervals): record goes on, says so once, loses nothing.
  std::this_thread::sleep_for(seconds(1));
  ASSERT_TRUE(record.Running()) << record.Stderr();
  const std::string full_err = record.Stderr();
  EXPECT_EQ(LinesMatching(full_err, write_error), 1u) << full_err;
  const std::vector<std::string> lines = Lines(full_err);
  const auto error_line = std::find_if(lines.begin(), lines.end(), [&](const std::string& line) {
    return std::regex_search(line, write_error);
  });
  ASSERT_NE(error_line, lines.end());
  EXPECT_NE(error_line->find(db), std::string::npos) << *error_line;
  const std::vector<int64_t> still_full = SampleTimes(db);
  EXPECT_EQ(LostSamples(when_full, still_full), "");
  EXPECT_EQ(CheckDatabase(db), "ok");

  // 2. Space again: writing resumes, with everything committed before still there.
  std::filesystem::remove(filler);
  EXPECT_TRUE(WaitFor([&] { return SampleTimes(db).size() > still_full.size(); }, seconds(5)))
      << "writing did not resume after space was freed\n"
      << record.Stderr();
  record.Signal(SIGINT);
  const int exit_code = record.Wait(seconds(10));
  const std::string err = record.Stderr();
  EXPECT_EQ(exit_code, 0) << err;
  EXPECT_GE(FailedIntervals(err), 5) << err;
  EXPECT_EQ(LinesMatching(err, write_error), 1u) << err;
  EXPECT_EQ(LostSamples(still_full, SampleTimes(db)), "");
  EXPECT_EQ(CheckDatabase(db), "ok");
}

// Sets up a read-only database and expects record to say so, never crash, and change nothing.
void ExpectReadOnlyRefused(const TempDir& dir, const std::string& db) {
  const std::map<std::string, std::string> before =
      DirectoryContents(std::filesystem::path(db).parent_path());
  Recording record(dir, {"--db", db, "--for", "1s", "--interval", "100ms"});
  const int status = record.WaitStatus(seconds(10));
  const std::string err = record.Stderr();
  ASSERT_TRUE(WIFEXITED(status)) << "record crashed: signal " << WTERMSIG(status) << "\n" << err;
  EXPECT_NE(WEXITSTATUS(status), 0) << "nothing could be written, yet record succeeded\n" << err;
  const std::regex read_only("read-?only", std::regex::icase);
  EXPECT_EQ(LinesMatching(err, read_only), 1u) << "say once that the database is read-only\n"
                                               << err;
  EXPECT_NE(err.find(db), std::string::npos) << err;
  EXPECT_EQ(ReadFile(db), before.at(std::filesystem::path(db).filename()))
      << "the database changed";
}

TEST(RecordFailure, ImmutableDatabaseFileIsReportedAndLeftIntact) {
  OwnNamespaces own(OwnNamespaces::Scope::kNetwork);
  const TestSocket something_to_record = Listen(AF_INET, "127.0.0.1");
  TempDir dir;
  const std::string db = dir.path() + "/history.db";
  RecordBriefly(dir, db);
  Immutable locked(db);
  if (!locked.set()) GTEST_SKIP() << "the file system of " << dir.path() << " has no chattr +i";
  ExpectReadOnlyRefused(dir, db);
}

TEST(RecordFailure, DatabaseOnAReadOnlyFileSystemIsReportedAndLeftIntact) {
  OwnNamespaces own(OwnNamespaces::Scope::kNetworkAndMounts);
  if (!own.entered()) GTEST_SKIP() << "needs root for mount and network namespaces";
  const TestSocket something_to_record = Listen(AF_INET, "127.0.0.1");
  TempDir dir;
  Tmpfs disk(dir.path() + "/disk", "size=4m");
  ASSERT_TRUE(disk.mounted()) << "cannot mount a tmpfs: " << std::strerror(errno);
  const std::string db = dir.path() + "/disk/history.db";
  RecordBriefly(dir, db);
  ASSERT_TRUE(disk.RemountReadOnly()) << std::strerror(errno);
  ExpectReadOnlyRefused(dir, db);
}

TEST(RecordFailure, LockHeldByAnotherProcessIsReportedOnceAndWritingResumes) {
  OwnNamespaces own(OwnNamespaces::Scope::kNetwork);
  const TestSocket something_to_record = Listen(AF_INET, "127.0.0.1");
  TempDir dir;
  const std::string db = dir.path() + "/history.db";
  Recording record(dir, {"--db", db, "--for", "7s", "--interval", "200ms"});
  ASSERT_TRUE(WaitFor([&] { return SampleTimes(db).size() >= 3; }, seconds(5))) << record.Stderr();

  // Another process takes the write lock and holds it for 3 s.
  int ready[2];
  ASSERT_EQ(pipe2(ready, O_CLOEXEC), 0);
  const pid_t holder = fork();
  ASSERT_GE(holder, 0);
  if (holder == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    Sqlite other(db, SQLITE_OPEN_READWRITE);
    const char locked = other.Execute("BEGIN EXCLUSIVE").empty() ? 1 : 0;
    (void)!write(ready[1], &locked, 1);
    if (locked == 0) _exit(1);
    sleep(3);
    _exit(other.Execute("COMMIT").empty() ? 0 : 2);
  }
  close(ready[1]);
  char locked = 0;
  EXPECT_EQ(read(ready[0], &locked, 1), 1);
  close(ready[0]);
  EXPECT_EQ(locked, 1) << "the other process could not take the lock";
  const std::vector<int64_t> before = SampleTimes(db);
  const auto lock_taken = steady_clock::now();
  int holder_status = 0;
  ASSERT_EQ(waitpid(holder, &holder_status, 0), holder);
  EXPECT_TRUE(WIFEXITED(holder_status) && WEXITSTATUS(holder_status) == 0);
  const auto held = std::chrono::duration_cast<milliseconds>(steady_clock::now() - lock_taken);
  const std::vector<int64_t> during = SampleTimes(db);
  EXPECT_LE(during.size(), before.size() + 1) << "the lock did not stop writing";

  // Released: writing resumes, and every interval committed before is still there.
  EXPECT_TRUE(WaitFor([&] { return SampleTimes(db).size() > during.size(); }, seconds(3)))
      << record.Stderr();
  EXPECT_EQ(record.Wait(seconds(10)), 0) << record.Stderr();
  const std::string err = record.Stderr();
  EXPECT_EQ(LinesMatching(err, std::regex("locked")), 1u) << err;
  EXPECT_NE(err.find(db), std::string::npos) << err;
  // The recorder kept its cadence while locked out: each interval tried, failed soon, and left
  // its changes to the next, rather than waiting out the lock in one long stall.
  EXPECT_GE(FailedIntervals(err), static_cast<int>(held.count() / 200 / 2))
      << "held for " << held.count() << " ms\n"
      << err;
  const std::vector<int64_t> after = SampleTimes(db);
  EXPECT_EQ(LostSamples(before, after), "");
  EXPECT_EQ(CheckDatabase(db), "ok");
}

// Runs record on a file that is not its database: it must refuse with one line saying what to do,
// and leave every file in the directory as it was. A new -shm (SQLite's shared-memory index, which
// any reader may create) is allowed; anything else new, such as a -wal, is not.
void ExpectRefusedAndUntouched(const std::string& db) {
  const std::string dir = std::filesystem::path(db).parent_path();
  const std::map<std::string, std::string> before = DirectoryContents(dir);
  const CommandResult result =
      Portwatch({"record", "--db", db, "--for", "1s", "--interval", "100ms"});
  EXPECT_NE(result.exit_code, 0) << Describe(result);
  EXPECT_NE(result.exit_code, -1) << Describe(result);
  EXPECT_EQ(result.out, "") << Describe(result);
  EXPECT_EQ(Lines(result.err).size(), 1u) << Describe(result);
  EXPECT_NE(result.err.find(db), std::string::npos) << Describe(result);
  EXPECT_NE(result.err.find("--db"), std::string::npos) << "say what to do\n" << Describe(result);
  std::map<std::string, std::string> after = DirectoryContents(dir);
  const std::string shm = std::filesystem::path(db).filename().string() + "-shm";
  if (!before.contains(shm)) after.erase(shm);
  EXPECT_TRUE(after == before) << "before:" << Names(before) << "\nafter:" << Names(after);
}

TEST(RecordFailure, RandomBytesAtTheDatabasePathAreLeftUntouched) {
  TempDir dir;
  std::mt19937 random(std::random_device{}());
  std::string bytes(16 * 1024, '\0');
  for (char& byte : bytes) byte = static_cast<char>(random());
  ExpectRefusedAndUntouched(dir.WriteFile("history.db", bytes));
}

TEST(RecordFailure, ForeignSqliteDatabaseIsLeftUntouched) {
  TempDir dir;
  const std::string db = dir.path() + "/history.db";
  {
    Sqlite other(db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    ASSERT_EQ(other.Execute("CREATE TABLE orders(id INTEGER PRIMARY KEY, item TEXT);"
                            "INSERT INTO orders(item) VALUES('tea'), ('milk');"),
              "");
  }
  ExpectRefusedAndUntouched(db);
}

// Another program's WAL-mode database with changes still in its -wal (it crashed, or is running):
// opening it read-write and closing it would checkpoint the -wal into the file and delete it.
TEST(RecordFailure, ForeignSqliteDatabaseWithAPendingWalIsLeftUntouched) {
  TempDir dir;
  const std::string source = dir.path() + "/source/app.db";
  std::filesystem::create_directories(dir.path() + "/source");
  std::filesystem::create_directories(dir.path() + "/copy");
  const std::string db = dir.path() + "/copy/history.db";
  {
    Sqlite other(source, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    ASSERT_EQ(other.Execute("PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;"
                            "CREATE TABLE orders(id INTEGER PRIMARY KEY, item TEXT);"
                            "INSERT INTO orders(item) VALUES('tea'), ('milk');"),
              "");
    // Copied while the other program still has it open: the table lives only in the -wal.
    std::filesystem::copy_file(source, db);
    std::filesystem::copy_file(source + "-wal", db + "-wal");
  }
  ASSERT_GT(std::filesystem::file_size(db + "-wal"), 0u);
  ExpectRefusedAndUntouched(db);
}

std::string Trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// The agent's /api/v1/events stream, read on a thread of its own into a string, as a dashboard
// reads it; the API is found the way the CLI finds it (api.address and api.token in `state`).
class EventStream {
 public:
  explicit EventStream(const std::string& state)
      : url_(Trimmed(ReadFile(state + "/api.address"))),
        token_(Trimmed(ReadFile(state + "/api.token"))),
        thread_([this] {
          httplib::Client client(url_);
          client.set_read_timeout(30, 0);
          client.Get("/api/v1/events", {{"Authorization", "Bearer " + token_}},
                     [this](const char* data, size_t size) {
                       std::lock_guard lock(mutex_);
                       text_.append(data, size);
                       return !stop_;
                     });
        }) {}
  ~EventStream() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    thread_.join();  // the next event (a snapshot summary every interval) ends the read
  }
  EventStream(const EventStream&) = delete;
  EventStream& operator=(const EventStream&) = delete;

  std::string Text() const {
    std::lock_guard lock(mutex_);
    return text_;
  }
  httplib::Result Get(const std::string& path) const {
    httplib::Client client(url_);
    return client.Get(path.c_str(), {{"Authorization", "Bearer " + token_}});
  }

 private:
  const std::string url_;
  const std::string token_;
  mutable std::mutex mutex_;
  std::string text_;
  bool stop_ = false;
  std::thread thread_;
};

// The agent rather than record: a full disk stops the history, never the detection. A backdoor
// listener opened while the disk is full is still alerted on in the log, the events file (on
// another disk) and the live stream, /readyz and /metrics say the store fails, and once space
// returns the alert is in the database and notified exactly once.
TEST(AgentStoreFailure, ABackdoorAlertIsDetectedWhileTheDiskIsFullAndStoredOnceWhenSpaceReturns) {
  OwnNamespaces own(OwnNamespaces::Scope::kNetworkAndMounts);
  if (!own.entered()) GTEST_SKIP() << "needs root for mount and network namespaces";
  TempDir dir;
  const std::string state = dir.path() + "/state";
  Tmpfs disk(state, "size=900k");
  ASSERT_TRUE(disk.mounted()) << "cannot mount a tmpfs: " << std::strerror(errno);
  const std::string filler = state + "/filler";
  std::ofstream(filler, std::ios::binary) << std::string(300 * 1024, 'x');
  const std::string db = state + "/history.db";
  const std::string events = dir.path() + "/events.jsonl";
  // The loopback listeners that fill the disk are expected; 31337 on every address is not.
  const std::string baseline =
      dir.WriteFile("baseline.yaml", "listeners:\n  - exposure: loopback\n");
  Receiver receiver;
  const std::string config = dir.WriteFile(
      "portwatch.yaml", "interval: 100ms\nevents: " + events + "\nbaseline:\n  path: " + baseline +
                            "\nnotify:\n  targets:\n    - name: hook\n      type: webhook\n"
                            "      rules: [backdoor_port]\n      url: " +
                            receiver.Url("/hook") + "\n");
  Recording agent(dir, {"--config", config, "--db", db}, "agent");
  ASSERT_TRUE(WaitFor([&] { return !SampleTimes(db).empty(); }, seconds(10))) << agent.Stderr();
  ASSERT_TRUE(WaitFor([&] { return std::filesystem::exists(state + "/api.address"); }, seconds(5)));
  EventStream stream(state);

  Background growth([] { OpenListenersForever(8, 0); });
  const std::regex write_error("full|disk|no space", std::regex::icase);
  ASSERT_TRUE(WaitFor([&] { return LinesMatching(agent.Stderr(), write_error) > 0; }, seconds(20)))
      << "the disk never filled up\n"
      << agent.Stderr();
  growth.Pause();

  // 1. The disk is full: a program listens on 31337. The alert is logged, written to the events
  //    file and streamed, however the database fares.
  const std::string program = dir.path() + "/nc";
  std::filesystem::copy_file("/usr/bin/sleep", program);
  auto listener = portwatch::testing::ListenerProcess(program, 31337);
  const std::regex opened(R"(alert .* opened .*:31337/tcp)");
  EXPECT_TRUE(WaitFor([&] { return LinesMatching(agent.Stderr(), opened) > 0; }, seconds(5)))
      << agent.Stderr();
  EXPECT_TRUE(WaitFor(
      [&] {
        const std::string text = ReadFile(events);
        return text.find("\"alert_opened\"") != std::string::npos &&
               text.find(":31337/tcp") != std::string::npos;
      },
      seconds(5)))
      << ReadFile(events);
  EXPECT_TRUE(WaitFor(
      [&] {
        const std::string text = stream.Text();
        return text.find("event: alert_opened") != std::string::npos &&
               text.find(":31337/tcp") != std::string::npos;
      },
      seconds(5)))
      << stream.Text().substr(0, 2000);
  ASSERT_TRUE(std::filesystem::exists(filler)) << "the disk must still be full here";
  httplib::Result ready = stream.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503) << ready->body;
  EXPECT_THAT(ready->body, ::testing::HasSubstr("store is failing"));
  httplib::Result metrics = stream.Get("/metrics");
  ASSERT_TRUE(metrics && metrics->status == 200);
  EXPECT_THAT(metrics->body, ::testing::HasSubstr("\nportwatch_store_failing 1\n"));
  EXPECT_THAT(metrics->body, ::testing::HasSubstr("\nportwatch_store_behind 1\n"));

  // 2. Space again: the alert enters the database and the outbox, once; the hook hears of it
  //    once, and the agent is ready again.
  std::filesystem::remove(filler);
  const auto backdoor_alerts = [&] {
    Sqlite read(db, SQLITE_OPEN_READONLY);
    return read.Column("SELECT id FROM alerts WHERE title LIKE '%:31337/tcp%'")
        .value_or(std::vector<std::string>{});
  };
  EXPECT_TRUE(WaitFor([&] { return !backdoor_alerts().empty(); }, seconds(10))) << agent.Stderr();
  EXPECT_TRUE(receiver.WaitForCount(1, seconds(10))) << agent.Stderr();
  EXPECT_TRUE(WaitFor(
      [&] {
        httplib::Result again = stream.Get("/readyz");
        return again && again->status == 200;
      },
      seconds(10)))
      << agent.Stderr();
  std::this_thread::sleep_for(seconds(1));
  const std::vector<std::string> ids = backdoor_alerts();
  ASSERT_EQ(ids.size(), 1u);
  Sqlite read(db, SQLITE_OPEN_READONLY);
  EXPECT_EQ(read.Column("SELECT kind FROM alert_events WHERE alert_id = " + ids[0]),
            std::vector<std::string>{"1"})
      << "one opening, stored once";
  EXPECT_EQ(read.Column("SELECT count(*) FROM deliveries d JOIN alert_events e ON e.id = "
                        "d.event_id WHERE e.alert_id = " +
                        ids[0]),
            std::vector<std::string>{"1"});
  EXPECT_EQ(receiver.Count(), 1u);
  EXPECT_EQ(CheckDatabase(db), "ok");
}

}  // namespace
}  // namespace portwatch::agent
