// End-to-end tests of `portwatch rules check`: the built binary on files in a temporary directory.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "agent/cli/exit_codes.h"
#include "tests/support/portwatch_cli.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace portwatch::agent {
namespace {

using portwatch::testing::CommandResult;
using portwatch::testing::Describe;
using portwatch::testing::Lines;
using portwatch::testing::Portwatch;
using portwatch::testing::TempDir;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kTwoRules[] =
    "lists:\n"
    "  shells: [/usr/bin/bash, /usr/bin/sh]\n"
    "rules:\n"
    "  - id: shell-out\n"
    "    description: A shell connects out\n"
    "    severity: high\n"
    "    when: {exe: $shells, direction: outbound}\n"
    "  - id: old-rule\n"
    "    description: Kept for later\n"
    "    severity: low\n"
    "    enabled: false\n"
    "    when: {local_port: 8080}\n";

TEST(RulesCheck, SaysWhatEachFileHolds) {
  TempDir dir;
  const std::string rules = dir.WriteFile("rules.yaml", kTwoRules);
  const std::string lists = dir.WriteFile("lists.yaml", "lists:\n  web: [80, 443]\n");
  const std::string empty = dir.WriteFile("empty.yaml", "");
  const CommandResult result = Portwatch({"rules", "check", rules, lists, empty});
  ASSERT_EQ(result.exit_code, kExitOk) << Describe(result);
  EXPECT_THAT(Lines(result.out),
              ElementsAre(rules + ": 2 rules, 1 list", lists + ": 0 rules, 1 list",
                          empty + ": 0 rules, 0 lists", "OK: 2 rules (1 enabled) from 3 files"));
  EXPECT_EQ(result.err, "");
}

TEST(RulesCheck, ADirectoryMeansItsYamlFilesInNameOrder) {
  TempDir dir;
  const std::string second = dir.WriteFile("rules.d/20-more.yml", "lists:\n  web: [80, 443]\n");
  const std::string first = dir.WriteFile("rules.d/10-rules.yaml", kTwoRules);
  dir.WriteFile("rules.d/README.txt", "not a rules file");
  const CommandResult result = Portwatch({"rules", "check", dir.path() + "/rules.d"});
  ASSERT_EQ(result.exit_code, kExitOk) << Describe(result);
  EXPECT_THAT(Lines(result.out),
              ElementsAre(first + ": 2 rules, 1 list", second + ": 0 rules, 1 list",
                          "OK: 2 rules (1 enabled) from 2 files"));
}

TEST(RulesCheck, TheShippedExamplePasses) {
  const CommandResult result = Portwatch(
      {"rules", "check", std::string(PORTWATCH_SOURCE_DIR) + "/packaging/rules.d/example.yaml"});
  ASSERT_EQ(result.exit_code, kExitOk) << Describe(result);
  EXPECT_THAT(Lines(result.out), Contains("OK: 4 rules (3 enabled) from 1 file"));
}

TEST(RulesCheck, TheShippedFilesNameProgramsByPathWithoutWarnings) {
  const std::string dir = std::string(PORTWATCH_SOURCE_DIR) + "/packaging/rules.d";
  const CommandResult result =
      Portwatch({"rules", "check", dir + "/default.yaml", dir + "/example.yaml"});
  ASSERT_EQ(result.exit_code, kExitOk) << Describe(result);
  EXPECT_EQ(result.err, "");
}

// A name is what a process says it is: the check loads it, but warns at its line and says what
// to write instead.
TEST(RulesCheck, WarnsThatANameCanBeSpoofedAndSuggestsTheExe) {
  TempDir dir;
  const std::string rules = dir.WriteFile("names.yaml",
                                          "rules:\n"
                                          "  - id: ssh-elsewhere\n"
                                          "    description: sshd on another port\n"
                                          "    severity: high\n"
                                          "    when: {process: sshd, state: listen}\n"
                                          "detectors:\n"
                                          "  raw_socket: {programs: [avahi-daemon]}\n");
  const CommandResult result = Portwatch({"rules", "check", rules});
  ASSERT_EQ(result.exit_code, kExitOk) << Describe(result);
  const std::vector<std::string> lines = Lines(result.err);
  ASSERT_EQ(lines.size(), 2u) << result.err;
  EXPECT_THAT(lines[0], StartsWith(rules + ":5: warning: rule 'ssh-elsewhere' when.process: "
                                           "'sshd' matches the name a process gives itself"));
  EXPECT_THAT(lines[0], HasSubstr("prctl"));
  EXPECT_THAT(lines[0], HasSubstr("exe: /usr/sbin/sshd"));
  EXPECT_THAT(lines[1], StartsWith(rules + ":7: warning: detectors.raw_socket.programs: "
                                           "'avahi-daemon' is a name"));
  EXPECT_THAT(lines[1], HasSubstr("/usr/sbin/avahi-daemon"));
  EXPECT_THAT(Lines(result.out), Contains("OK: 1 rule (1 enabled) from 1 file"));
}

TEST(RulesCheck, PrintsEveryProblemAndExitsWithTheUsageCode) {
  TempDir dir;
  const std::string good = dir.WriteFile("good.yaml", kTwoRules);
  const std::string bad = dir.WriteFile("bad.yaml",
                                        "rules:\n"
                                        "  - id: shell-out\n"
                                        "    description: Again\n"
                                        "    severity: loud\n"
                                        "    when: {local_port: 70000}\n");
  const CommandResult result = Portwatch({"rules", "check", good, bad});
  EXPECT_EQ(result.exit_code, kExitUsage) << Describe(result);
  EXPECT_EQ(result.out, "");
  EXPECT_THAT(Lines(result.err),
              ElementsAre(StartsWith(bad +
                                     ":2: rule 'shell-out': the id 'shell-out' is already "
                                     "used by the rule at " +
                                     good + ":4"),
                          StartsWith(bad + ":4: rule 'shell-out' severity: 'loud' is not a "
                                           "severity"),
                          StartsWith(bad + ":5: rule 'shell-out' when.local_port: '70000' is out "
                                           "of range")));
}

TEST(RulesCheck, AMissingFileIsOneLine) {
  TempDir dir;
  const std::string missing = dir.path() + "/nope.yaml";
  const CommandResult result = Portwatch({"rules", "check", missing});
  EXPECT_EQ(result.exit_code, kExitUsage) << Describe(result);
  EXPECT_THAT(Lines(result.err),
              ElementsAre("cannot read rules file " + missing + ": no such file or not readable"));
}

TEST(RulesCheck, NeedsAtLeastOneFile) {
  const CommandResult check = Portwatch({"rules", "check"});
  EXPECT_EQ(check.exit_code, kExitUsage) << Describe(check);
  EXPECT_THAT(check.err, HasSubstr("files is required"));

  const CommandResult rules = Portwatch({"rules"});
  EXPECT_EQ(rules.exit_code, kExitUsage) << Describe(rules);
}

}  // namespace
}  // namespace portwatch::agent
