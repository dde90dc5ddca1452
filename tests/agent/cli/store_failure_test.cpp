// End-to-end tests of `portwatch record` when its database fails under it: the process killed,
// the disk full, the file read-only, locked by another process, or not a portwatch database.
//
// Each test that records moves into network (and, for mounts, mount) namespaces of its own when it
// may, so the recording holds only its sockets and a tmpfs it mounts disappears with it even if
// the test crashes. The database is read back through the SQLite API, independently of portwatch.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sqlite3.h>
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
#include <optional>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace portwatch::agent {
namespace {

using portwatch::testing::CommandResult;
using portwatch::testing::RunCommand;
using portwatch::testing::TempDir;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

CommandResult Portwatch(std::vector<std::string> args) {
  args.insert(args.begin(), PORTWATCH_BINARY);
  return RunCommand(args);
}

std::string Describe(const CommandResult& result) {
  constexpr size_t kMaxShown = 4000;
  return "exit " + std::to_string(result.exit_code) + "\n--- stdout:\n" +
         result.out.substr(0, kMaxShown) + "\n--- stderr:\n" + result.err.substr(0, kMaxShown);
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

size_t LinesMatching(const std::string& text, const std::regex& pattern) {
  const std::vector<std::string> lines = Lines(text);
  return static_cast<size_t>(std::count_if(lines.begin(), lines.end(), [&](const std::string& l) {
    return std::regex_search(l, pattern);
  }));
}

bool WaitFor(const std::function<bool()>& condition, milliseconds timeout) {
  const auto deadline = steady_clock::now() + timeout;
  while (!condition()) {
    if (steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(25));
  }
  return true;
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

// While it lives, this (single-threaded) test process is in a network namespace of its own with
// loopback up and, with mounts, in a mount namespace whose mounts stay private to it: the
// recording sees only the test's sockets, and a tmpfs the test mounts goes away with the test
// even if it crashes. entered() is false when that is not allowed (not root).
class OwnNamespaces {
 public:
  explicit OwnNamespaces(bool mounts)
      : net_(open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)),
        mnt_(mounts ? open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC) : -1) {
    if (net_ < 0 || (mounts && mnt_ < 0)) return;
    if (unshare(CLONE_NEWNET | (mounts ? CLONE_NEWNS : 0)) != 0) return;
    entered_ = true;
    if (mounts) {
      EXPECT_EQ(mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0);
    }
    const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ifreq request{};
    std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
    EXPECT_EQ(ioctl(fd, SIOCGIFFLAGS, &request), 0);
    request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP);
    EXPECT_EQ(ioctl(fd, SIOCSIFFLAGS, &request), 0) << "cannot bring loopback up";
    close(fd);
  }
  ~OwnNamespaces() {
    if (entered_) {
      EXPECT_EQ(setns(net_, CLONE_NEWNET), 0);
      if (mnt_ >= 0) {
        // Entering a mount namespace moves the working directory to its root: keep ours.
        const int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        EXPECT_EQ(setns(mnt_, CLONE_NEWNS), 0);
        if (cwd >= 0) (void)!fchdir(cwd);
        if (cwd >= 0) close(cwd);
      }
    }
    if (net_ >= 0) close(net_);
    if (mnt_ >= 0) close(mnt_);
  }
  OwnNamespaces(const OwnNamespaces&) = delete;
  OwnNamespaces& operator=(const OwnNamespaces&) = delete;

  bool entered() const { return entered_; }

 private:
  int net_;
  int mnt_;
  bool entered_ = false;
};

// A TCP listener on loopback, closed on scope exit: gives the recording something to record.
class Listener {
 public:
  Listener() : fd_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in loopback{};
    loopback.sin_family = AF_INET;
    loopback.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&loopback), sizeof(loopback)), 0);
    EXPECT_EQ(listen(fd_, 4), 0);
  }
  ~Listener() { close(fd_); }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

 private:
  int fd_;
};

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
      sockaddr_in loopback{};
      loopback.sin_family = AF_INET;
      loopback.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&loopback), sizeof(loopback)) != 0 ||
          listen(fd, 1) != 0) {
        _exit(1);
      }
      open.push_back(fd);
      if (keep != 0 && open.size() > keep) {
        close(open.front());
        open.pop_front();
      }
    }
    usleep(50 * 1000);
  }
}

// `portwatch record` with args, running in the background with stderr in a file outside the
// database's directory. The destructor kills it if it still runs; it dies with the test.
class Recording {
 public:
  Recording(const TempDir& dir, const std::vector<std::string>& args)
      : err_path_(dir.path() + "/record" + std::to_string(count_++) + ".err") {
    std::vector<std::string> argv = {PORTWATCH_BINARY, "record"};
    argv.insert(argv.end(), args.begin(), args.end());
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      const int err = open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      const int null = open("/dev/null", O_RDWR | O_CLOEXEC);
      dup2(null, STDIN_FILENO);
      dup2(null, STDOUT_FILENO);
      dup2(err, STDERR_FILENO);
      std::vector<char*> raw;
      for (std::string& arg : argv) raw.push_back(arg.data());
      raw.push_back(nullptr);
      execv(raw[0], raw.data());
      _exit(127);
    }
    EXPECT_GT(pid_, 0);
  }
  ~Recording() {
    if (pid_ > 0 && !status_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  Recording(const Recording&) = delete;
  Recording& operator=(const Recording&) = delete;

  bool Running() {
    int status = 0;
    if (!status_ && waitpid(pid_, &status, WNOHANG) == pid_) status_ = status;
    return !status_;
  }
  void Signal(int signal) const { kill(pid_, signal); }

  // The wait status once it ends; kills it (and fails) if it runs past the timeout.
  int WaitStatus(milliseconds timeout) {
    if (!WaitFor([this] { return !Running(); }, timeout)) {
      ADD_FAILURE() << "portwatch record still runs after " << timeout.count() << " ms";
      kill(pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
      status_ = status;
    }
    return *status_;
  }
  // The exit code, or -1 when a signal ended it.
  int Wait(milliseconds timeout) {
    const int status = WaitStatus(timeout);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  std::string Stderr() const { return ReadFile(err_path_); }

 private:
  static inline int count_ = 0;
  std::string err_path_;
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// A SQLite connection of the test's own, closed on scope exit.
class Sqlite {
 public:
  Sqlite(const std::string& path, int flags) {
    opened_ = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
    if (db_ != nullptr) sqlite3_busy_timeout(db_, 2000);
  }
  ~Sqlite() { sqlite3_close_v2(db_); }
  Sqlite(const Sqlite&) = delete;
  Sqlite& operator=(const Sqlite&) = delete;

  bool ok() const { return opened_ == SQLITE_OK; }
  // Runs statements; the error message, or "" on success.
  std::string Execute(const std::string& sql) {
    char* message = nullptr;
    const int code = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
    std::string error = code == SQLITE_OK ? "" : (message ? message : sqlite3_errstr(code));
    sqlite3_free(message);
    return error;
  }
  // The first column of every row, as text; nullopt when the query fails.
  std::optional<std::vector<std::string>> Column(const std::string& sql) {
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

 private:
  sqlite3* db_ = nullptr;
  int opened_ = SQLITE_ERROR;
};

// The times of the samples (one per committed interval), read-only; empty while there are none.
std::vector<int64_t> SampleTimes(const std::string& path) {
  if (!std::filesystem::exists(path)) return {};
  Sqlite db(path, SQLITE_OPEN_READONLY);
  std::vector<int64_t> times;
  for (const std::string& at : db.Column("SELECT at FROM samples WHERE resolution = 0 ORDER BY at")
                                   .value_or(std::vector<std::string>())) {
    times.push_back(std::stoll(at));
  }
  return times;
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
  OwnNamespaces own(false);
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
  OwnNamespaces own(true);
  if (!own.entered()) GTEST_SKIP() << "needs root for mount and network namespaces";
  TempDir dir;
  Tmpfs disk(dir.path() + "/fs", "size=600k");
  ASSERT_TRUE(disk.mounted()) << "cannot mount a tmpfs: " << std::strerror(errno);
  // Most of the disk goes to a filler file, to be deleted later: what is left fills in seconds.
  const std::string filler = dir.path() + "/fs/filler";
  std::ofstream(filler, std::ios::binary) << std::string(300 * 1024, 'x');
  ASSERT_EQ(std::filesystem::file_size(filler), 300u * 1024u);
  const std::string db = dir.path() + "/fs/history.db";
  Listener listener;
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
  OwnNamespaces own(false);
  Listener listener;
  TempDir dir;
  const std::string db = dir.path() + "/history.db";
  RecordBriefly(dir, db);
  Immutable locked(db);
  if (!locked.set()) GTEST_SKIP() << "the file system of " << dir.path() << " has no chattr +i";
  ExpectReadOnlyRefused(dir, db);
}

TEST(RecordFailure, DatabaseOnAReadOnlyFileSystemIsReportedAndLeftIntact) {
  OwnNamespaces own(true);
  if (!own.entered()) GTEST_SKIP() << "needs root for mount and network namespaces";
  Listener listener;
  TempDir dir;
  Tmpfs disk(dir.path() + "/disk", "size=4m");
  ASSERT_TRUE(disk.mounted()) << "cannot mount a tmpfs: " << std::strerror(errno);
  const std::string db = dir.path() + "/disk/history.db";
  RecordBriefly(dir, db);
  ASSERT_TRUE(disk.RemountReadOnly()) << std::strerror(errno);
  ExpectReadOnlyRefused(dir, db);
}

TEST(RecordFailure, LockHeldByAnotherProcessIsReportedOnceAndWritingResumes) {
  OwnNamespaces own(false);
  Listener listener;
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

}  // namespace
}  // namespace portwatch::agent
