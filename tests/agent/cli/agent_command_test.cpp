// End-to-end tests of `portwatch agent`: the real binary, started and signalled like a service.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/recording.h"
#include "tests/support/sockets.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

extern char** environ;

namespace portwatch::agent {
namespace {

using portwatch::testing::Recording;
using portwatch::testing::RunCommand;
using portwatch::testing::TempDir;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

// A `portwatch agent` in the background, its stderr going to a file; killed if still running.
size_t RecordedIntervals(const std::string& db) {
  const auto result = RunCommand({PORTWATCH_BINARY, "history", "--db", db, "--samples", "--since",
                                  "1h", "--step", "1ms", "--json"});
  if (result.exit_code != 0) return 0;
  return nlohmann::json::parse(result.out).size();
}

TEST(AgentCommand, RecordsEveryIntervalAndStopsWithinASecondOnSigterm) {
  TempDir dir;
  const std::string db = dir.path() + "/history.db";
  const std::string config = dir.WriteFile("portwatch.yaml", "interval: 200ms\n");
  Recording agent(dir, {"--config", config, "--db", db}, "agent");
  ASSERT_TRUE(agent.WaitForStderr("agent started", std::chrono::seconds(5))) << agent.Stderr();
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_GE(RecordedIntervals(db), 4u);

  const auto asked = Clock::now();
  agent.Signal(SIGTERM);
  EXPECT_EQ(agent.Wait(std::chrono::seconds(1)), 0) << agent.Stderr();
  EXPECT_LT(Clock::now() - asked, std::chrono::seconds(1));
  EXPECT_THAT(agent.Stderr(), HasSubstr("agent stopped"));
}

TEST(AgentCommand, ASecondAgentOnTheSameDatabaseNamesThePidInTheWay) {
  TempDir dir;
  const std::string db = dir.path() + "/history.db";
  Recording first(dir, {"--db", db}, "agent");
  ASSERT_TRUE(first.WaitForStderr("agent started", std::chrono::seconds(5))) << first.Stderr();
  Recording second(dir, {"--db", db}, "agent");
  EXPECT_EQ(second.Wait(std::chrono::seconds(5)), 3);
  EXPECT_THAT(second.Stderr(), HasSubstr("pid " + std::to_string(first.pid())));
  EXPECT_TRUE(first.Running());
}

TEST(AgentCommand, SighupWithABrokenConfigKeepsTheRunningOne) {
  TempDir dir;
  const std::string db = dir.path() + "/history.db";
  const std::string config = dir.WriteFile("portwatch.yaml", "interval: 200ms\n");
  Recording agent(dir, {"--config", config, "--db", db}, "agent");
  ASSERT_TRUE(agent.WaitForStderr("agent started", std::chrono::seconds(5))) << agent.Stderr();

  dir.WriteFile("portwatch.yaml", "interval: soon\n");
  agent.Signal(SIGHUP);
  ASSERT_TRUE(agent.WaitForStderr("config not reloaded", std::chrono::seconds(2)))
      << agent.Stderr();
  EXPECT_THAT(agent.Stderr(), HasSubstr(config + ":1: interval: 'soon' is not a duration"));
  EXPECT_TRUE(agent.Running());
  const size_t before = RecordedIntervals(db);
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  EXPECT_GT(RecordedIntervals(db), before) << "the agent stopped recording after a bad reload";

  dir.WriteFile("portwatch.yaml", "interval: 300ms\nlog_level: debug\n");
  agent.Signal(SIGHUP);
  EXPECT_TRUE(agent.WaitForStderr("config reloaded", std::chrono::seconds(2))) << agent.Stderr();
  // debug level now shows each interval.
  EXPECT_TRUE(agent.WaitForStderr("interval:", std::chrono::seconds(2))) << agent.Stderr();
}

TEST(AgentCommand, SighupReloadsTheRulesAndABrokenRulesFileKeepsTheRunningOnes) {
  TempDir dir;
  const std::string db = dir.path() + "/history.db";
  const std::string rules = dir.WriteFile("rules.yaml", "");
  const std::string config =
      dir.WriteFile("portwatch.yaml", "interval: 200ms\nrules: [" + rules + "]\n");
  Recording agent(dir, {"--config", config, "--db", db}, "agent");
  ASSERT_TRUE(agent.WaitForStderr("agent started", std::chrono::seconds(5))) << agent.Stderr();

  dir.WriteFile("rules.yaml", "rules:\n  - id: Not An Id\n");
  agent.Signal(SIGHUP);
  ASSERT_TRUE(agent.WaitForStderr("rules not reloaded", std::chrono::seconds(2))) << agent.Stderr();
  EXPECT_THAT(agent.Stderr(), HasSubstr(rules + ":2:"));
  EXPECT_TRUE(agent.Running());

  // A good file: its rule runs from the next interval on.
  portwatch::testing::TestSocket listener = portwatch::testing::Listen(AF_INET, "127.0.0.1");
  dir.WriteFile("rules.yaml",
                "rules:\n  - id: test-port\n    description: the test's port\n"
                "    severity: critical\n    when: {local_port: " +
                    std::to_string(listener.port) + ", direction: listen}\n");
  agent.Signal(SIGHUP);
  ASSERT_TRUE(agent.WaitForStderr("1 rules from 1 files", std::chrono::seconds(2)))
      << agent.Stderr();
  EXPECT_TRUE(agent.WaitForStderr("[critical]", std::chrono::seconds(3))) << agent.Stderr();
  EXPECT_THAT(agent.Stderr(), HasSubstr("the test's port (test-port)"));
}

TEST(AgentCommand, ABadConfigAtStartIsAnErrorNamingFileAndLine) {
  TempDir dir;
  const std::string config = dir.WriteFile("portwatch.yaml", "interval: 1s\ncolour: blue\n");
  const auto result = RunCommand(
      {PORTWATCH_BINARY, "agent", "--config", config, "--db", dir.path() + "/history.db"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr(config + ":2: unknown key 'colour'"));
  EXPECT_TRUE(result.out.empty());
}

TEST(AgentCommand, ABadRulesFileAtStartIsAnErrorNamingFileAndLine) {
  TempDir dir;
  const std::string rules =
      dir.WriteFile("rules.yaml",
                    "rules:\n  - id: ok\n    description: d\n    severity: urgent\n"
                    "    when: {local_port: 22}\n");
  const std::string config = dir.WriteFile("portwatch.yaml", "rules: " + rules + "\n");
  const auto result = RunCommand(
      {PORTWATCH_BINARY, "agent", "--config", config, "--db", dir.path() + "/history.db"});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_THAT(result.err, HasSubstr(rules + ":4:"));
  EXPECT_THAT(result.err, HasSubstr("urgent"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/history.db")) << "nothing was started";
}

}  // namespace
}  // namespace portwatch::agent
