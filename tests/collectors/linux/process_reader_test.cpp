#include "collectors/linux/process_reader.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "tests/support/temp_dir.h"

namespace portwatch::collectors::linux {
namespace {

using portwatch::testing::TempDir;

std::string Stat(int pid, const char* name, int ppid, uint64_t start_time) {
  return std::to_string(pid) + " (" + name + ") S " + std::to_string(ppid) +
         " 1 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 " + std::to_string(start_time) +
         " 1000 100 0\n";
}

void WriteProcess(const TempDir& proc, int pid, const char* name, uint32_t uid, uint64_t start_time,
                  const std::string& cmdline) {
  const std::string dir = std::to_string(pid);
  proc.WriteFile(dir + "/stat", Stat(pid, name, 1, start_time));
  proc.WriteFile(dir + "/status", "Name:\t" + std::string(name) + "\nUid:\t" + std::to_string(uid) +
                                      "\t" + std::to_string(uid) + "\t0\t0\n");
  proc.WriteFile(dir + "/cmdline", cmdline);
}

TEST(ProcessReader, ReadsEveryDetailOfAProcess) {
  TempDir proc;
  WriteProcess(proc, 100, "sshd", 0, 555, std::string("/usr/sbin/sshd\0-D\0", 18));
  proc.Symlink("100/exe", "/usr/sbin/sshd (deleted)");
  ProcessReader reader(proc.path());
  const auto process = reader.Read(100);
  ASSERT_TRUE(process);
  EXPECT_EQ(process->pid, 100);
  EXPECT_EQ(process->ppid, 1);
  EXPECT_EQ(process->start_time, 555u);
  EXPECT_EQ(process->name, "sshd");
  EXPECT_EQ(process->exe, "/usr/sbin/sshd");
  EXPECT_TRUE(process->exe_deleted);
  EXPECT_EQ(process->cmdline, "/usr/sbin/sshd -D");
  EXPECT_EQ(process->uid, 0u);
  EXPECT_EQ(process->user, "root");
}

TEST(ProcessReader, MissingPiecesLeaveFieldsEmptyNotTheProcess) {
  TempDir proc;
  proc.WriteFile("200/stat", Stat(200, "worker", 100, 9));
  ProcessReader reader(proc.path());
  const auto process = reader.Read(200);
  ASSERT_TRUE(process);
  EXPECT_EQ(process->name, "worker");
  EXPECT_EQ(process->exe, "");
  EXPECT_EQ(process->cmdline, "");
}

TEST(ProcessReader, UnknownUidsAreShownAsNumbers) {
  TempDir proc;
  WriteProcess(proc, 300, "odd", 4000123, 1, "odd");
  ProcessReader reader(proc.path());
  EXPECT_EQ(reader.Read(300)->user, "4000123");
}

TEST(ProcessReader, GoneOrGarbledProcessesAreNotReturned) {
  TempDir proc;
  proc.WriteFile("400/stat", "garbage");
  ProcessReader reader(proc.path());
  EXPECT_FALSE(reader.Read(400));
  EXPECT_FALSE(reader.Read(401));
  ProcessReader nowhere("/nonexistent/proc");
  EXPECT_FALSE(nowhere.Read(1));
}

TEST(ProcessReader, CachesByPidAndStartTimeSoAReusedPidIsReadAfresh) {
  TempDir proc;
  WriteProcess(proc, 500, "first", 0, 1000, "first");
  ProcessReader reader(proc.path());
  EXPECT_EQ(reader.Read(500)->cmdline, "first");

  // Same process (same start time): served from the cache even though cmdline changed.
  proc.WriteFile("500/cmdline", "changed");
  EXPECT_EQ(reader.Read(500)->cmdline, "first");
  EXPECT_EQ(reader.cache_hits(), 1u);

  // The pid was reused by a new process (new start time): read again.
  WriteProcess(proc, 500, "second", 0, 2000, "second");
  const auto reused = reader.Read(500);
  EXPECT_EQ(reused->name, "second");
  EXPECT_EQ(reused->cmdline, "second");
}

TEST(ProcessReader, AnExecIntoAnotherBinaryIsReadAfreshUnderTheSamePidAndStartTime) {
  TempDir proc;
  TempDir bin;
  const std::string python = bin.WriteFile("python3", "interpreter");
  const std::string sleeper = bin.WriteFile("sleep", "another binary");
  WriteProcess(proc, 700, "python3", 1000, 42, "python3 listener.py");
  proc.Symlink("700/exe", python);
  ProcessReader reader(proc.path());
  const auto before = reader.Read(700);
  ASSERT_TRUE(before);
  struct stat python_file;
  ASSERT_EQ(stat(python.c_str(), &python_file), 0);
  EXPECT_EQ(before->exe_inode, python_file.st_ino);
  EXPECT_EQ(before->exe_device, python_file.st_dev);
  EXPECT_NE(before->exe_mtime_ns, 0);

  // execve: same pid, same start time, new executable (the exe link's target changes), and the
  // cmdline with it. comm is left as it was, as a program that renames itself back would.
  std::filesystem::remove(proc.path() + "/700/exe");
  proc.Symlink("700/exe", sleeper);
  proc.WriteFile("700/cmdline", std::string("/tmp/sleep\0"
                                            "1000\0",
                                            16));
  const auto after = reader.Read(700);
  ASSERT_TRUE(after);
  struct stat sleeper_file;
  ASSERT_EQ(stat(sleeper.c_str(), &sleeper_file), 0);
  EXPECT_EQ(after->exe, sleeper);
  EXPECT_EQ(after->exe_inode, sleeper_file.st_ino);
  EXPECT_EQ(after->cmdline, "/tmp/sleep 1000");
  EXPECT_EQ(reader.identity_changes(), 1u);
  EXPECT_EQ(reader.cache_hits(), 0u);

  // Unchanged since: a cache hit again.
  EXPECT_EQ(reader.Read(700)->exe, sleeper);
  EXPECT_EQ(reader.cache_hits(), 1u);
}

TEST(ProcessReader, ANewCommOrNewCredentialsAreReadAfresh) {
  TempDir proc;
  WriteProcess(proc, 800, "worker", 1000, 7, "worker");
  ProcessReader reader(proc.path());
  EXPECT_EQ(reader.Read(800)->uid, 1000u);

  // prctl(PR_SET_NAME): comm changes in stat; the whole process is read again.
  proc.WriteFile("800/stat", Stat(800, "sshd", 1, 7));
  proc.WriteFile("800/cmdline", "renamed");
  const auto renamed = reader.Read(800);
  EXPECT_EQ(renamed->name, "sshd");
  EXPECT_EQ(renamed->cmdline, "renamed");

  // New credentials: the owner of /proc/PID/stat (the effective uid while dumpable) changes.
  if (geteuid() != 0) GTEST_SKIP() << "needs root to chown the fake stat file";
  proc.WriteFile("800/status", "Name:\tsshd\nUid:\t0\t0\t0\t0\n");
  ASSERT_EQ(chown((proc.path() + "/800/stat").c_str(), 4242, 4242), 0);
  EXPECT_EQ(reader.Read(800)->uid, 0u);
  EXPECT_EQ(reader.identity_changes(), 2u);
}

TEST(ProcessReader, FinishPassForgetsProcessesNotSeenInThePass) {
  TempDir proc;
  WriteProcess(proc, 600, "kept", 0, 1, "kept");
  ProcessReader reader(proc.path());
  reader.Read(600);
  reader.FinishPass();
  reader.FinishPass();  // a pass in which 600 was not asked about
  proc.WriteFile("600/cmdline", "reread");
  EXPECT_EQ(reader.Read(600)->cmdline, "reread");
}

TEST(ProcessReader, ReadsThisProcessFromTheRealProc) {
  ProcessReader reader("/proc");
  const auto self = reader.Read(getpid());
  ASSERT_TRUE(self);
  EXPECT_EQ(self->pid, getpid());
  EXPECT_EQ(self->ppid, getppid());
  EXPECT_FALSE(self->exe.empty());
  EXPECT_NE(self->cmdline.find("portwatch_collectors_tests"), std::string::npos);
}

}  // namespace
}  // namespace portwatch::collectors::linux
