// Where the agent and the CLI keep their state by default: as a systemd service (the service
// user, $STATE_DIRECTORY), as root, and as an ordinary user.

#include "agent/cli/state_paths.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <string>

namespace portwatch::agent {
namespace {

// Sets (or, with nullopt, unsets) an environment variable for the scope, then restores it.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      setenv(name, value->c_str(), 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

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
