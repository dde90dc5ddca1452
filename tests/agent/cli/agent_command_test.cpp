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
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/sockets.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

extern char** environ;

namespace portwatch::agent {
namespace {

using portwatch::testing::RunCommand;
using portwatch::testing::TempDir;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

// A `portwatch agent` in the background, its stderr going to a file; killed if still running.
class AgentProcess {
 public:
  AgentProcess(const TempDir& dir, const std::vector<std::string>& args)
      : log_(dir.path() + "/agent-" + std::to_string(counter_++) + ".log") {
    std::vector<std::string> argv = {PORTWATCH_BINARY, "agent"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> raw;
    for (std::string& arg : argv) raw.push_back(arg.data());
    raw.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    EXPECT_EQ(posix_spawn(&pid_, raw[0], &actions, nullptr, raw.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
  }
  ~AgentProcess() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  pid_t pid() const { return pid_; }
  bool Running() {
    if (exited_) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    return !exited_;
  }
  // Waits up to `limit` for the process to exit; its exit code, or nullopt if still running.
  std::optional<int> WaitExit(std::chrono::milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    while (Running() && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (Running()) return std::nullopt;
    return exit_code_;
  }
  std::string Log() const {
    std::ifstream file(log_);
    std::ostringstream text;
    text << file.rdbuf();
    return text.str();
  }
  // Waits until the log contains `text`.
  bool WaitForLog(const std::string& text, std::chrono::milliseconds limit) const {
    const auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      if (Log().find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

 private:
  static inline int counter_ = 0;
  std::string log_;
  pid_t pid_ = -1;
  bool exited_ = false;
  int exit_code_ = -1;
};

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
  AgentProcess agent(dir, {"--config", config, "--db", db});
  ASSERT_TRUE(agent.WaitForLog("agent started", std::chrono::seconds(5))) << agent.Log();
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_GE(RecordedIntervals(db), 4u);

  const auto asked = Clock::now();
  ASSERT_EQ(kill(agent.pid(), SIGTERM), 0);
  const std::optional<int> code = agent.WaitExit(std::chrono::seconds(1));
  ASSERT_TRUE(code.has_value()) << "still running 1 s after SIGTERM";
  EXPECT_EQ(*code, 0) << agent.Log();
  EXPECT_LT(Clock::now() - asked, std::chrono::seconds(1));
  EXPECT_THAT(agent.Log(), HasSubstr("agent stopped"));
}

TEST(AgentCommand, ASecondAgentOnTheSameDatabaseNamesThePidInTheWay) {
  TempDir dir;
  const std::string db = dir.path() + "/history.db";
  AgentProcess first(dir, {"--db", db});
  ASSERT_TRUE(first.WaitForLog("agent started", std::chrono::seconds(5))) << first.Log();
  AgentProcess second(dir, {"--db", db});
  const std::optional<int> code = second.WaitExit(std::chrono::seconds(5));
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 3);
  EXPECT_THAT(second.Log(), HasSubstr("pid " + std::to_string(first.pid())));
  EXPECT_TRUE(first.Running());
}

TEST(AgentCommand, SighupWithABrokenConfigKeepsTheRunningOne) {
  TempDir dir;
  const std::string db = dir.path() + "/history.db";
  const std::string config = dir.WriteFile("portwatch.yaml", "interval: 200ms\n");
  AgentProcess agent(dir, {"--config", config, "--db", db});
  ASSERT_TRUE(agent.WaitForLog("agent started", std::chrono::seconds(5))) << agent.Log();

  dir.WriteFile("portwatch.yaml", "interval: soon\n");
  ASSERT_EQ(kill(agent.pid(), SIGHUP), 0);
  ASSERT_TRUE(agent.WaitForLog("config not reloaded", std::chrono::seconds(2))) << agent.Log();
  EXPECT_THAT(agent.Log(), HasSubstr(config + ":1: interval: 'soon' is not a duration"));
  EXPECT_TRUE(agent.Running());
  const size_t before = RecordedIntervals(db);
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  EXPECT_GT(RecordedIntervals(db), before) << "the agent stopped recording after a bad reload";

  dir.WriteFile("portwatch.yaml", "interval: 300ms\nlog_level: debug\n");
  ASSERT_EQ(kill(agent.pid(), SIGHUP), 0);
  EXPECT_TRUE(agent.WaitForLog("config reloaded", std::chrono::seconds(2))) << agent.Log();
  // debug level now shows each interval.
  EXPECT_TRUE(agent.WaitForLog("interval:", std::chrono::seconds(2))) << agent.Log();
}

TEST(AgentCommand, SighupReloadsTheRulesAndABrokenRulesFileKeepsTheRunningOnes) {
  TempDir dir;
  const std::string db = dir.path() + "/history.db";
  const std::string rules = dir.WriteFile("rules.yaml", "");
  const std::string config =
      dir.WriteFile("portwatch.yaml", "interval: 200ms\nrules: [" + rules + "]\n");
  AgentProcess agent(dir, {"--config", config, "--db", db});
  ASSERT_TRUE(agent.WaitForLog("agent started", std::chrono::seconds(5))) << agent.Log();

  dir.WriteFile("rules.yaml", "rules:\n  - id: Not An Id\n");
  ASSERT_EQ(kill(agent.pid(), SIGHUP), 0);
  ASSERT_TRUE(agent.WaitForLog("rules not reloaded", std::chrono::seconds(2))) << agent.Log();
  EXPECT_THAT(agent.Log(), HasSubstr(rules + ":2:"));
  EXPECT_TRUE(agent.Running());

  // A good file: its rule runs from the next interval on.
  portwatch::testing::TestSocket listener = portwatch::testing::Listen(AF_INET, "127.0.0.1");
  dir.WriteFile("rules.yaml",
                "rules:\n  - id: test-port\n    description: the test's port\n"
                "    severity: critical\n    when: {local_port: " +
                    std::to_string(listener.port) + ", direction: listen}\n");
  ASSERT_EQ(kill(agent.pid(), SIGHUP), 0);
  ASSERT_TRUE(agent.WaitForLog("1 rules from 1 files", std::chrono::seconds(2))) << agent.Log();
  EXPECT_TRUE(agent.WaitForLog("[critical]", std::chrono::seconds(3))) << agent.Log();
  EXPECT_THAT(agent.Log(), HasSubstr("the test's port (test-port)"));
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

}  // namespace
}  // namespace portwatch::agent
