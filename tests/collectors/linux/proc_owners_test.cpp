#include "collectors/linux/proc_owners.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "tests/support/temp_dir.h"

namespace portwatch::collectors::linux {
namespace {

using portwatch::testing::TempDir;

std::vector<int32_t> OwnersOf(const OwnerScan& scan, uint64_t inode) {
  std::vector<int32_t> pids;
  scan.owners.ForEachOwner(inode, [&](int32_t pid) { pids.push_back(pid); });
  std::sort(pids.begin(), pids.end());
  return pids;
}

TEST(SocketInodeFromLink, ParsesOnlySocketLinks) {
  EXPECT_EQ(SocketInodeFromLink("socket:[12345]"), 12345u);
  EXPECT_EQ(SocketInodeFromLink("socket:[18446744073709551615]"), UINT64_MAX);
  EXPECT_EQ(SocketInodeFromLink("socket:[]"), 0u);
  EXPECT_EQ(SocketInodeFromLink("socket:[12a]"), 0u);
  EXPECT_EQ(SocketInodeFromLink("socket:[12"), 0u);
  EXPECT_EQ(SocketInodeFromLink("socket:[99999999999999999999]"), 0u);
  EXPECT_EQ(SocketInodeFromLink("pipe:[12345]"), 0u);
  EXPECT_EQ(SocketInodeFromLink("/dev/null"), 0u);
  EXPECT_EQ(SocketInodeFromLink(""), 0u);
}

TEST(ScanSocketOwners, JoinsSocketsToEveryProcessInAFakeProcTree) {
  TempDir proc;
  proc.Symlink("100/fd/3", "socket:[1111]");
  proc.Symlink("100/fd/4", "/dev/null");
  proc.Symlink("100/fd/5", "socket:[2222]");
  proc.Symlink("100/fd/6", "anon_inode:[eventfd]");
  proc.Symlink("100/fd/7", "socket:[bogus]");
  proc.Symlink("200/fd/0", "socket:[1111]");  // shared with pid 100
  // Threads share their leader's table: task/ must never be walked.
  proc.Symlink("100/task/101/fd/9", "socket:[3333]");
  proc.MakeDir("300");  // exited: no fd directory
  proc.WriteFile("400/fd", "not a directory");
  proc.MakeDir("abc/fd");  // not a pid
  proc.Symlink("self", "100");

  Result<OwnerScan> scan = ScanSocketOwners(proc.path());
  ASSERT_TRUE(scan.ok()) << scan.error().message;
  EXPECT_EQ(OwnersOf(*scan, 1111), (std::vector<int32_t>{100, 200}));
  EXPECT_EQ(OwnersOf(*scan, 2222), (std::vector<int32_t>{100}));
  EXPECT_TRUE(OwnersOf(*scan, 3333).empty());
  EXPECT_EQ(scan->owners.inode_count(), 2u);
  EXPECT_EQ(scan->processes_seen, 4u);  // 100, 200, 300, 400
  EXPECT_TRUE(scan->unreadable_pids.empty());
}

TEST(ScanSocketOwners, AMissingProcRootIsAClearError) {
  Result<OwnerScan> scan = ScanSocketOwners("/nonexistent/proc");
  ASSERT_FALSE(scan.ok());
  EXPECT_NE(scan.error().message.find("/nonexistent/proc"), std::string::npos);
}

TEST(ScanSocketOwners, FindsThisProcessesSocketInTheRealProc) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  struct stat info;
  ASSERT_EQ(fstat(fd, &info), 0);
  Result<OwnerScan> scan = ScanSocketOwners("/proc");
  close(fd);
  ASSERT_TRUE(scan.ok());
  EXPECT_EQ(OwnersOf(*scan, info.st_ino), (std::vector<int32_t>{getpid()}));
}

// As an unprivileged user, other users' fd tables are unreadable: the scan says which, rather
// than pretending those processes own nothing.
TEST(ScanSocketOwners, ReportsProcessesItMayNotRead) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to drop to another user";
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) _exit(10);
    Result<OwnerScan> scan = ScanSocketOwners("/proc");
    if (!scan.ok()) _exit(11);
    // pid 1 belongs to root: its fd table must be reported unreadable.
    const auto& unreadable = scan->unreadable_pids;
    _exit(std::find(unreadable.begin(), unreadable.end(), 1) != unreadable.end() ? 0 : 12);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace portwatch::collectors::linux
