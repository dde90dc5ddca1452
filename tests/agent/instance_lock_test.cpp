#include "agent/instance_lock.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support/temp_dir.h"

namespace portwatch::agent {
namespace {

using portwatch::testing::TempDir;
using ::testing::HasSubstr;

TEST(InstanceLock, ASecondHolderIsToldWhichPidHasIt) {
  TempDir dir;
  const std::string db = dir.path() + "/history.db";
  Result<InstanceLock> first = InstanceLock::Acquire(db);
  ASSERT_TRUE(first.ok()) << first.error().message;
  // flock is per open file description: another process is refused.
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    Result<InstanceLock> second = InstanceLock::Acquire(db);
    const bool refused =
        !second.ok() &&
        second.error().message.find("pid " + std::to_string(getppid())) != std::string::npos;
    _exit(refused ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(InstanceLock, IsFreeAgainOnceReleased) {
  TempDir dir;
  const std::string db = dir.path() + "/history.db";
  {
    Result<InstanceLock> first = InstanceLock::Acquire(db);
    ASSERT_TRUE(first.ok());
  }
  Result<InstanceLock> again = InstanceLock::Acquire(db);
  EXPECT_TRUE(again.ok());
}

TEST(InstanceLock, ADirectoryThatCannotHoldTheLockIsAClearError) {
  Result<InstanceLock> lock = InstanceLock::Acquire("/nonexistent/dir/history.db");
  ASSERT_FALSE(lock.ok());
  EXPECT_THAT(lock.error().message, HasSubstr("/nonexistent/dir/history.db.lock"));
}

}  // namespace
}  // namespace portwatch::agent
