// The agent end to end, as a user meets it: start it, open a backdoor-style listener from a
// program in a temporary directory, see one alert (not one a second) naming the program, pid,
// port and why; close it and the alert resolves; accept it and it never fires again. Runs in a
// network namespace of its own so only the test's sockets are there.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>

#include "tests/support/namespaces.h"
#include "tests/support/portwatch_cli.h"
#include "tests/support/receiver.h"
#include "tests/support/recording.h"
#include "tests/support/sockets.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait_for.h"

namespace portwatch::agent {
namespace {

using nlohmann::json;
using portwatch::testing::ChildProcess;
using portwatch::testing::OwnNamespaces;
using portwatch::testing::Portwatch;
using portwatch::testing::Recording;
using portwatch::testing::TempDir;
using ::testing::HasSubstr;

// `portwatch alerts --json` with extra flags, parsed.
json Alerts(const std::string& db, std::vector<std::string> flags = {}) {
  std::vector<std::string> args = {"alerts", "--json", "--db", db};
  args.insert(args.end(), flags.begin(), flags.end());
  const portwatch::testing::CommandResult result = Portwatch(args);
  EXPECT_EQ(result.exit_code, 0) << portwatch::testing::Describe(result);
  json parsed = json::parse(result.out, nullptr, false);
  return parsed.is_array() ? parsed : json::array();
}

std::vector<json> EventLines(const std::string& path) {
  std::ifstream file(path);
  std::vector<json> lines;
  for (std::string line; std::getline(file, line);) {
    json parsed = json::parse(line, nullptr, false);
    EXPECT_FALSE(parsed.is_discarded()) << "not JSON: " << line;
    lines.push_back(parsed);
  }
  return lines;
}

TEST(AgentAlerts, ABackdoorListenerIsOneAlertThatResolvesAndOnceAcceptedNeverFiresAgain) {
  OwnNamespaces namespaces(OwnNamespaces::Scope::kNetwork);
  ASSERT_TRUE(namespaces.entered()) << "needs root for a network namespace";
  TempDir dir;
  const std::string db = dir.path() + "/state/history.db";
  const std::string events = dir.path() + "/events.jsonl";
  const std::string config =
      dir.WriteFile("portwatch.yaml",
                    "interval: 250ms\nevents: " + events + "\nalerts:\n  resolve_after: 500ms\n");
  std::filesystem::create_directories(dir.path() + "/state");
  Recording agent(dir, {"--config", config, "--db", db}, "agent");
  // With no baseline the agent learns one from its first snapshot and saves it beside the db.
  ASSERT_TRUE(portwatch::testing::WaitFor(
      [&] { return std::filesystem::exists(dir.path() + "/state/baseline.yaml"); },
      std::chrono::seconds(10)))
      << agent.Stderr();

  // 1. A program in a temporary directory listens on 31337: one alert, within an interval.
  const std::string program = dir.path() + "/nc";
  std::filesystem::copy_file("/usr/bin/sleep", program);
  auto listener = portwatch::testing::ListenerProcess(program, 31337);
  json open;
  ASSERT_TRUE(portwatch::testing::WaitFor(
      [&] {
        open = Alerts(db, {"--open"});
        return !open.empty();
      },
      std::chrono::seconds(5)))
      << agent.Stderr();
  ASSERT_EQ(open.size(), 1u) << open.dump(2);
  const json& alert = open[0];
  EXPECT_EQ(alert["severity"], "high");
  EXPECT_THAT(alert["title"].get<std::string>(),
              HasSubstr("nc (pid " + std::to_string(listener->pid()) + ", user root)"));
  EXPECT_THAT(alert["title"].get<std::string>(), HasSubstr(":31337/tcp"));
  std::vector<std::string> rules;
  for (const json& reason : alert["reasons"]) rules.push_back(reason["rule"]);
  EXPECT_THAT(rules, ::testing::UnorderedElementsAre("backdoor_port", "suspicious_exe",
                                                     "unexpected_listener"));
  EXPECT_EQ(alert["first_evidence"]["local_port"], 31337);

  // 2. It lasts: still one alert, seen once, after several intervals.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  json still = Alerts(db);
  ASSERT_EQ(still.size(), 1u);
  EXPECT_EQ(still[0]["count"], 1);
  EXPECT_EQ(still[0]["status"], "open");

  // 3. Closed: resolved.
  listener.reset();
  ASSERT_TRUE(portwatch::testing::WaitFor([&] { return Alerts(db, {"--open"}).empty(); },
                                          std::chrono::seconds(5)));
  EXPECT_EQ(Alerts(db)[0]["status"], "resolved");

  // 4. Accepted: opening it again raises nothing.
  const std::string id = std::to_string(alert["id"].get<int64_t>());
  const portwatch::testing::CommandResult accepted =
      Portwatch({"alerts", "accept", id, "--db", db});
  ASSERT_EQ(accepted.exit_code, 0) << portwatch::testing::Describe(accepted);
  EXPECT_THAT(accepted.out, HasSubstr("will not be alerted on again for"));
  auto again = portwatch::testing::ListenerProcess(program, 31337);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_TRUE(Alerts(db, {"--open"}).empty()) << Alerts(db).dump(2);

  // 5. The events log holds the story as JSON lines.
  agent.Signal(SIGTERM);
  EXPECT_EQ(agent.Wait(std::chrono::seconds(5)), 0) << agent.Stderr();
  std::vector<std::string> kinds;
  for (const json& line : EventLines(events)) {
    const std::string kind = line.value("event", "");
    if (kind.starts_with("alert_")) {
      kinds.push_back(kind);
    } else if (line["socket"].is_object() && line["socket"]["local_port"] == 31337) {
      kinds.push_back(kind);
    }
  }
  EXPECT_THAT(kinds,
              ::testing::ElementsAre("listener_appeared", "alert_opened", "listener_disappeared",
                                     "alert_resolved", "listener_appeared"));
}

// The rules files of these tests: suspicious_exe stays quiet about `program` (a copy of sleep in
// a temporary directory, which it would rightly flag), plus `extra` detector settings.
std::string QuietProgramRules(const std::string& program, const std::string& extra = "") {
  return "detectors:\n  suspicious_exe:\n    except:\n      - exe: [\"" + program + "\"]\n" + extra;
}

std::vector<std::string> RulesOf(const json& alert) {
  std::vector<std::string> rules;
  for (const json& reason : alert["reasons"]) rules.push_back(reason["rule"]);
  return rules;
}

// A listener that comes and goes every interval is one open alert whose count rises, and the
// chat hears of it once (twice at most, with its resolution), not at every flap.
TEST(AgentAlerts, AListenerFlappingEveryIntervalIsOneAlertWithItsCountRisingAndOneNotification) {
  OwnNamespaces namespaces(OwnNamespaces::Scope::kNetwork);
  ASSERT_TRUE(namespaces.entered()) << "needs root for a network namespace";
  TempDir dir;
  std::filesystem::create_directories(dir.path() + "/state");
  const std::string db = dir.path() + "/state/history.db";
  portwatch::testing::Receiver receiver;
  const std::string config =
      dir.WriteFile("portwatch.yaml",
                    "interval: 200ms\nalerts:\n  resolve_after: 1s\nnotify:\n  targets:\n"
                    "    - name: chat\n      type: webhook\n      rules: [backdoor_port]\n"
                    "      url: " +
                        receiver.Url("/hook") + "\n");
  Recording agent(dir, {"--config", config, "--db", db}, "agent");
  ASSERT_TRUE(portwatch::testing::WaitFor(
      [&] { return std::filesystem::exists(dir.path() + "/state/baseline.yaml"); },
      std::chrono::seconds(10)))
      << agent.Stderr();

  // 10 s of flapping: 200 ms listening on 31337, 200 ms not, 25 times.
  const auto flapping_until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < flapping_until) {
    {
      const portwatch::testing::TestSocket beacon =
          portwatch::testing::Bind(AF_INET, SOCK_STREAM, "127.0.0.1", 31337);
      ASSERT_EQ(listen(beacon.fd.get(), 16), 0) << std::strerror(errno);
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  const json all = Alerts(db, {"--rule", "backdoor_port"});
  ASSERT_EQ(all.size(), 1u) << all.dump(2) << agent.Stderr();
  EXPECT_EQ(all[0]["status"], "open") << "it came back within resolve_after every time";
  EXPECT_GE(all[0]["count"].get<int64_t>(), 5) << "each return counts";
  EXPECT_EQ(receiver.Count(), 1u);

  // Gone for good: it resolves after resolve_after, and that is the second notification.
  ASSERT_TRUE(portwatch::testing::WaitFor(
      [&] {
        return Alerts(db, {"--open", "--rule", "backdoor_port"}).empty();
      },
      std::chrono::seconds(5)));
  EXPECT_TRUE(receiver.WaitForCount(2, std::chrono::seconds(5)));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_LE(receiver.Count(), 2u);
}

// Accepting an unexpected listener accepts that rule on it, not the listener forever: the same
// listener later on a backdoor port list is a new alert; unaccepting brings the first rule back.
TEST(AgentAlerts, AcceptingOneRuleLeavesANewRuleOnTheSameListenerToAlertAndUnacceptUndoesIt) {
  OwnNamespaces namespaces(OwnNamespaces::Scope::kNetwork);
  ASSERT_TRUE(namespaces.entered()) << "needs root for a network namespace";
  TempDir dir;
  std::filesystem::create_directories(dir.path() + "/state");
  const std::string db = dir.path() + "/state/history.db";
  const std::string program = dir.path() + "/svc";
  std::filesystem::copy_file("/usr/bin/sleep", program);
  const std::string rules = dir.WriteFile("rules.yaml", QuietProgramRules(program));
  const std::string config = dir.WriteFile(
      "portwatch.yaml", "interval: 200ms\nrules: " + rules + "\nalerts:\n  resolve_after: 400ms\n");
  Recording agent(dir, {"--config", config, "--db", db}, "agent");
  ASSERT_TRUE(portwatch::testing::WaitFor(
      [&] { return std::filesystem::exists(dir.path() + "/state/baseline.yaml"); },
      std::chrono::seconds(10)))
      << agent.Stderr();

  // 1. A new listener on 8765: unexpected_listener only. Accepted.
  auto listener = portwatch::testing::ListenerProcess(program, 8765);
  json open;
  ASSERT_TRUE(portwatch::testing::WaitFor(
      [&] {
        open = Alerts(db, {"--open"});
        return !open.empty();
      },
      std::chrono::seconds(5)))
      << agent.Stderr();
  ASSERT_EQ(open.size(), 1u) << open.dump(2);
  EXPECT_THAT(RulesOf(open[0]), ::testing::ElementsAre("unexpected_listener"));
  const std::string first = std::to_string(open[0]["id"].get<int64_t>());
  const portwatch::testing::CommandResult accepted =
      Portwatch({"alerts", "accept", first, "--db", db});
  ASSERT_EQ(accepted.exit_code, 0) << portwatch::testing::Describe(accepted);
  const portwatch::testing::CommandResult listed =
      Portwatch({"alerts", "accepted", "--json", "--db", db});
  ASSERT_EQ(listed.exit_code, 0) << portwatch::testing::Describe(listed);
  const json acceptances = json::parse(listed.out, nullptr, false);
  ASSERT_TRUE(acceptances.is_array() && acceptances.size() == 1u) << listed.out;
  EXPECT_EQ(acceptances[0]["rule"], "unexpected_listener");
  EXPECT_EQ(acceptances[0]["exe"], program);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_TRUE(Alerts(db, {"--open"}).empty()) << Alerts(db).dump(2);

  // 2. Port 8765 joins the backdoor ports (SIGHUP): the same listener is a new alert, about
  //    backdoor_port only.
  dir.WriteFile("rules.yaml", QuietProgramRules(program, "  backdoor_port:\n    ports: [8765]\n"));
  agent.Signal(SIGHUP);
  ASSERT_TRUE(portwatch::testing::WaitFor(
      [&] {
        open = Alerts(db, {"--open"});
        return !open.empty();
      },
      std::chrono::seconds(5)))
      << agent.Stderr();
  ASSERT_EQ(open.size(), 1u) << open.dump(2);
  EXPECT_NE(std::to_string(open[0]["id"].get<int64_t>()), first);
  EXPECT_THAT(RulesOf(open[0]), ::testing::ElementsAre("backdoor_port"));

  // 3. Unaccepted: unexpected_listener joins the open alert's reasons again.
  const portwatch::testing::CommandResult undone = Portwatch(
      {"alerts", "unaccept", std::to_string(acceptances[0]["id"].get<int64_t>()), "--db", db});
  ASSERT_EQ(undone.exit_code, 0) << portwatch::testing::Describe(undone);
  EXPECT_TRUE(portwatch::testing::WaitFor(
      [&] {
        const json now = Alerts(db, {"--open"});
        return now.size() == 1u && RulesOf(now[0]).size() == 2u;
      },
      std::chrono::seconds(5)))
      << Alerts(db).dump(2);
  EXPECT_EQ(Portwatch({"alerts", "accepted", "--db", db}).out, "nothing accepted\n");
}

TEST(AgentAlerts, BadAlertCommandsExitTwoWithOneLine) {
  TempDir dir;
  const std::string db = dir.path() + "/history.db";
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"alerts", "ack", "x1", "--db", db},
        std::vector<std::string>{"alerts", "--severity", "urgent", "--db", db},
        std::vector<std::string>{"alerts", "silence", "3", "--for", "soon", "--db", db}}) {
    const portwatch::testing::CommandResult result = Portwatch(args);
    EXPECT_EQ(result.exit_code, 2) << portwatch::testing::Describe(result);
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
  }
  const portwatch::testing::CommandResult missing = Portwatch({"alerts", "ack", "7", "--db", db});
  EXPECT_EQ(missing.exit_code, 3);
  EXPECT_THAT(missing.err, HasSubstr("no database at"));
}

}  // namespace
}  // namespace portwatch::agent
