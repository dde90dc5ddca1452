// Where the agent and the CLI keep their state by default: as a systemd service (the service
// user, $STATE_DIRECTORY), as root, and as an ordinary user.

#include "agent/cli/state_paths.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <optional>
#include <string>

#include "tests/support/scoped_env.h"

namespace portwatch::agent {
namespace {

using portwatch::testing::ScopedEnv;

TEST(StatePaths, TheServiceUsesSystemdsStateDirectory) {
  ScopedEnv state("STATE_DIRECTORY", "/var/lib/portwatch");
  ScopedEnv xdg("XDG_STATE_HOME", "/home/someone/.state");
  EXPECT_EQ(DefaultStateDirectory(), "/var/lib/portwatch");
  EXPECT_EQ(DefaultDatabasePath(), "/var/lib/portwatch/history.db");
  EXPECT_EQ(ApiTokenPath("", DefaultDatabasePath()), "/var/lib/portwatch/api.token");
}

TEST(StatePaths, TakesTheFirstOfSeveralStateDirectories) {
  ScopedEnv state("STATE_DIRECTORY", "/srv/state/portwatch:/srv/state/other");
  EXPECT_EQ(DefaultStateDirectory(), "/srv/state/portwatch");
}

TEST(StatePaths, WithoutAServiceRootUsesVarLibAndOthersTheirStateHome) {
  ScopedEnv xdg("XDG_STATE_HOME", "/home/someone/.state");
  const std::string usual =
      geteuid() == 0 ? "/var/lib/portwatch" : "/home/someone/.state/portwatch";
  {
    ScopedEnv state("STATE_DIRECTORY", "");
    EXPECT_EQ(DefaultStateDirectory(), usual);
  }
  {
    ScopedEnv state("STATE_DIRECTORY", "relative/dir");
    EXPECT_EQ(DefaultStateDirectory(), usual);
  }
}

}  // namespace
}  // namespace portwatch::agent
