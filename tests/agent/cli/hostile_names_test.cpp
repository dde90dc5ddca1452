// Attacker-chosen text on a person's screen: a program whose name and path hold ESC, BEL, a
// newline and a right-to-left override listens on a backdoor port. Every table and message the
// CLI prints, and the agent's log, show those characters as visible escapes — none reaches the
// terminal raw, so the name can neither forge a row nor drive the terminal nor read backwards —
// while --json keeps the exact bytes for programs. Runs in a network namespace of its own.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/support/namespaces.h"
#include "tests/support/portwatch_cli.h"
#include "tests/support/recording.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait_for.h"

namespace portwatch::agent {
namespace {

using nlohmann::json;
using portwatch::testing::CommandResult;
using portwatch::testing::Describe;
using portwatch::testing::Lines;
using portwatch::testing::OwnNamespaces;
using portwatch::testing::Portwatch;
using portwatch::testing::Recording;
using portwatch::testing::TempDir;
using ::testing::HasSubstr;

// 13 bytes, within comm's 15: ESC ] 0 ; BEL (set the terminal's title), a newline, U+202E, "evil".
const std::string kHostileName =
    "\x1b]0;\x07\n\xE2\x80\xAE"
    "evil";
// How every human-readable output must show it.
const std::string kShown = "\\x1b]0;\\x07\\n\\u202eevil";

// No raw control or bidirectional character of the name in `text`, and every line that shows
// the name shows all of it (a raw newline would have cut it in two).
void ExpectOnlyEscapes(const std::string& what, const std::string& text) {
  SCOPED_TRACE(what);
  EXPECT_EQ(text.find('\x1b'), std::string::npos) << text;
  EXPECT_EQ(text.find('\x07'), std::string::npos) << text;
  EXPECT_EQ(text.find("\xE2\x80\xAE"), std::string::npos) << text;
  int shown = 0;
  for (const std::string& line : Lines(text)) {
    if (line.find("evil") == std::string::npos) continue;
    EXPECT_THAT(line, HasSubstr(kShown));
    ++shown;
  }
  EXPECT_GT(shown, 0) << "the name is not shown at all:\n" << text;
}

CommandResult Expect(const std::vector<std::string>& args, int exit_code = 0) {
  CommandResult result = Portwatch(args);
  EXPECT_EQ(result.exit_code, exit_code) << Describe(result);
  return result;
}

TEST(HostileNames, EveryOutputShowsControlAndBidiCharactersAsEscapes) {
  OwnNamespaces namespaces(OwnNamespaces::Scope::kNetwork);
  ASSERT_TRUE(namespaces.entered()) << "needs root for a network namespace";
  TempDir dir;
  const std::string db = dir.path() + "/state/history.db";
  const std::string config = dir.WriteFile("portwatch.yaml", "interval: 250ms\n");
  std::filesystem::create_directories(dir.path() + "/state");
  Recording agent(dir, {"--config", config, "--db", db}, "agent");
  ASSERT_TRUE(portwatch::testing::WaitFor(
      [&] { return std::filesystem::exists(dir.path() + "/state/baseline.yaml"); },
      std::chrono::seconds(10)))
      << agent.Stderr();

  // A copy of sleep under that name (its comm, its exe and its argv[0]) holds 0.0.0.0:31337.
  const std::string program = dir.path() + "/" + kHostileName;
  std::filesystem::copy_file("/usr/bin/sleep", program);
  auto listener = portwatch::testing::ListenerProcess(program, 31337);
  json alerts;
  ASSERT_TRUE(portwatch::testing::WaitFor(
      [&] {
        const CommandResult listed = Portwatch({"alerts", "--json", "--open", "--db", db});
        alerts = json::parse(listed.out, nullptr, false);
        return alerts.is_array() && !alerts.empty();
      },
      std::chrono::seconds(5)))
      << agent.Stderr();
  const std::string id = std::to_string(alerts[0]["id"].get<int64_t>());

  // 1. Programs get the exact bytes.
  const json sockets = portwatch::testing::ExpectJsonArray(
      Expect({"snapshot", "--json", "--port", "31337", "--listening"}));
  ASSERT_EQ(sockets.size(), 1u) << sockets.dump();
  EXPECT_EQ(sockets[0]["process"], kHostileName);
  EXPECT_EQ(sockets[0]["exe"], program);
  EXPECT_THAT(alerts[0]["title"].get<std::string>(), HasSubstr(kHostileName));

  // 2. People get escapes, in every table and message.
  ExpectOnlyEscapes("snapshot", Expect({"snapshot", "--port", "31337"}).out);
  ExpectOnlyEscapes("who", Expect({"who", "31337"}).out);
  ExpectOnlyEscapes("alerts", Expect({"alerts", "--db", db}).out);
  const std::string shown = Expect({"alerts", "show", id, "--db", db}).out;
  ExpectOnlyEscapes("alerts show", shown);
  EXPECT_THAT(shown, HasSubstr("\\u202eevil"));  // the subject names the exe path, escaped too
  ExpectOnlyEscapes("alerts ack", Expect({"alerts", "ack", id, "--db", db}).out);
  ExpectOnlyEscapes("history --port",
                    Expect({"history", "--port", "31337", "--since", "1h", "--db", db}).out);
  ExpectOnlyEscapes("history --events",
                    Expect({"history", "--events", "--since", "1h", "--db", db}).out);

  // 3. And so does the agent's log, where the alert was announced.
  agent.Signal(SIGTERM);
  EXPECT_EQ(agent.Wait(std::chrono::seconds(5)), 0) << agent.Stderr();
  ExpectOnlyEscapes("agent log", agent.Stderr());
}

}  // namespace
}  // namespace portwatch::agent
