#include "agent/rules/rules_loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace portwatch::agent::rules {
namespace {

using collectors::AddressClass;
using collectors::Direction;
using collectors::Exposure;
using collectors::PortCategory;
using collectors::Protocol;
using collectors::SocketState;
using portwatch::testing::TempDir;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

using Ranges = std::vector<std::pair<uint16_t, uint16_t>>;

// The problems LoadRules reports for one file, one per line; none (and a test failure) if it
// loads.
std::vector<std::string> ProblemsOf(const std::vector<std::string>& paths) {
  Result<RuleSet> loaded = LoadRules(paths);
  if (loaded.ok()) {
    ADD_FAILURE() << "expected problems, but the files loaded";
    return {};
  }
  std::vector<std::string> lines;
  std::string line;
  for (const char c : loaded.error().message + "\n") {
    if (c == '\n') {
      lines.push_back(line);
      line.clear();
    } else {
      line += c;
    }
  }
  return lines;
}

// A file with one rule whose condition is `when` (indented by six spaces per line).
std::string OneRule(const std::string& when) {
  return "rules:\n"
         "  - id: r\n"
         "    description: d\n"
         "    severity: low\n"
         "    when:\n" +
         when;
}

const Rule* Find(const RuleSet& set, const std::string& id) {
  const auto rule = std::find_if(set.rules.begin(), set.rules.end(),
                                 [&](const Rule& candidate) { return candidate.id == id; });
  return rule == set.rules.end() ? nullptr : &*rule;
}

TEST(RulesLoader, AnEmptyFileKeepsTheBuiltInDetectors) {
  TempDir dir;
  const std::string empty = dir.WriteFile("empty.yaml", "");
  const std::string comments = dir.WriteFile("comments.yaml", "# nothing yet\n");
  Result<RuleSet> loaded = LoadRules({empty, comments});
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_TRUE(loaded->rules.empty());
  EXPECT_THAT(loaded->files, ElementsAre(empty, comments));
  const DetectorsConfig defaults = DefaultDetectors();
  EXPECT_EQ(loaded->detectors.service_owners, defaults.service_owners);
  EXPECT_EQ(loaded->detectors.suspicious_dirs, defaults.suspicious_dirs);
  EXPECT_EQ(loaded->detectors.fan_out_window, defaults.fan_out_window);
  EXPECT_EQ(loaded->detectors.privileged_port.enabled, defaults.privileged_port.enabled);
}

TEST(RulesLoader, ReadsEveryFieldOfARule) {
  TempDir dir;
  const std::string path =
      dir.WriteFile("rules.yaml",
                    "rules:\n"
                    "  - id: everything.1\n"
                    "    description: \"Every test at once\"\n"
                    "    severity: critical\n"
                    "    mitre: T1059.004\n"
                    "    enabled: false\n"
                    "    when:\n"
                    "      protocol: [tcp, UDP]\n"
                    "      state: [listen, time-wait, unconn]\n"
                    "      local_port: [22, 8000-8100]\n"
                    "      remote_port: 4444\n"
                    "      exposure: [loopback, all]\n"
                    "      remote: [10.0.0.0/8, 203.0.113.7, \"2001:db8::/32\"]\n"
                    "      local: 127.0.0.1\n"
                    "      direction: [inbound, outbound]\n"
                    "      category: well-known\n"
                    "      remote_class: [public, none]\n"
                    "      process: [nc, \"ncat*\"]\n"
                    "      exe: [\"/tmp/*\"]\n"
                    "      user: [root, www-data]\n"
                    "      uid: [0, 1000]\n"
                    "      parent: bash\n"
                    "    except:\n"
                    "      - process: sshd\n"
                    "      - remote: 192.168.0.0/16\n"
                    "        remote_port: 53\n");
  Result<RuleSet> loaded = LoadRules({path});
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  ASSERT_THAT(loaded->rules, SizeIs(1));
  const Rule& rule = loaded->rules[0];
  EXPECT_EQ(rule.id, "everything.1");
  EXPECT_EQ(rule.description, "Every test at once");
  EXPECT_EQ(rule.severity, Severity::kCritical);
  EXPECT_EQ(rule.mitre, "T1059.004");
  EXPECT_FALSE(rule.enabled);
  EXPECT_EQ(rule.source, path + ":2");

  const Condition& when = rule.condition;
  EXPECT_EQ(when.source, path + ":8");
  EXPECT_THAT(when.protocols, ElementsAre(Protocol::kTcp, Protocol::kUdp));
  EXPECT_THAT(when.states,
              ElementsAre(SocketState::kListen, SocketState::kTimeWait, SocketState::kClose));
  ASSERT_TRUE(when.local_ports.has_value());
  EXPECT_EQ(when.local_ports->ranges, (Ranges{{22, 22}, {8000, 8100}}));
  ASSERT_TRUE(when.remote_ports.has_value());
  EXPECT_EQ(when.remote_ports->ranges, (Ranges{{4444, 4444}}));
  EXPECT_THAT(when.exposures, ElementsAre(Exposure::kLoopback, Exposure::kAll));
  ASSERT_THAT(when.remote_networks, SizeIs(3));
  EXPECT_EQ(when.remote_networks[0].prefix, 8);
  EXPECT_EQ(when.remote_networks[1].prefix, 32);
  EXPECT_EQ(when.remote_networks[2].prefix, 32);
  EXPECT_EQ(when.remote_networks[0].network.ToString(), "10.0.0.0");
  EXPECT_EQ(when.remote_networks[2].network.ToString(), "2001:db8::");
  ASSERT_THAT(when.local_networks, SizeIs(1));
  EXPECT_EQ(when.local_networks[0].network.ToString(), "127.0.0.1");
  EXPECT_THAT(when.directions, ElementsAre(Direction::kInbound, Direction::kOutbound));
  EXPECT_THAT(when.categories, ElementsAre(PortCategory::kWellKnown));
  EXPECT_THAT(when.remote_classes, ElementsAre(AddressClass::kPublic, AddressClass::kNone));
  EXPECT_THAT(when.process_names, ElementsAre("nc", "ncat*"));
  EXPECT_THAT(when.exe_paths, ElementsAre("/tmp/*"));
  EXPECT_THAT(when.users, ElementsAre("root", "www-data"));
  EXPECT_THAT(when.uids, ElementsAre(0u, 1000u));
  EXPECT_THAT(when.parents, ElementsAre("bash"));

  ASSERT_THAT(rule.exceptions, SizeIs(2));
  EXPECT_THAT(rule.exceptions[0].process_names, ElementsAre("sshd"));
  EXPECT_EQ(rule.exceptions[0].source, path + ":24");
  EXPECT_EQ(rule.exceptions[1].source, path + ":25");
  ASSERT_THAT(rule.exceptions[1].remote_networks, SizeIs(1));
  EXPECT_EQ(rule.exceptions[1].remote_networks[0].prefix, 16);
  EXPECT_EQ(rule.exceptions[1].remote_ports->ranges, (Ranges{{53, 53}}));
}

TEST(RulesLoader, OptionalKeysHaveDefaultsAndExceptTakesOneCondition) {
  TempDir dir;
  Result<RuleSet> loaded = LoadRules({dir.WriteFile("rules.yaml", OneRule("      uid: 0\n"
                                                                          "    except:\n"
                                                                          "      user: root\n"))});
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  const Rule& rule = loaded->rules.at(0);
  EXPECT_TRUE(rule.enabled);
  EXPECT_TRUE(rule.mitre.empty());
  EXPECT_EQ(rule.severity, Severity::kLow);
  EXPECT_THAT(rule.condition.uids, ElementsAre(0u));
  ASSERT_THAT(rule.exceptions, SizeIs(1));
  EXPECT_THAT(rule.exceptions[0].users, ElementsAre("root"));
}

TEST(RulesLoader, ExpandsListReferencesFromAnyFile) {
  TempDir dir;
  // The rules use a list that only a later file defines: lists are shared by the files.
  const std::string rules = dir.WriteFile("10-rules.yaml",
                                          "lists:\n"
                                          "  trusted: [sshd, \"nginx*\"]\n"
                                          "rules:\n"
                                          "  - id: db\n"
                                          "    description: d\n"
                                          "    severity: high\n"
                                          "    when:\n"
                                          "      local_port: [$db_ports, 9200]\n"
                                          "      process: $trusted\n"
                                          "    except:\n"
                                          "      - parent: [$trusted, init]\n");
  const std::string lists =
      dir.WriteFile("20-lists.yaml", "lists:\n  db_ports: [3306, \"27017-27019\"]\n");
  Result<LoadedRules> loaded = LoadRulesWithSummary({rules, lists});
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  const Rule& rule = loaded->rule_set.rules.at(0);
  EXPECT_EQ(rule.condition.local_ports->ranges,
            (Ranges{{3306, 3306}, {27017, 27019}, {9200, 9200}}));
  EXPECT_THAT(rule.condition.process_names, ElementsAre("sshd", "nginx*"));
  EXPECT_THAT(rule.exceptions.at(0).parents, ElementsAre("sshd", "nginx*", "init"));
  ASSERT_THAT(loaded->files, SizeIs(2));
  EXPECT_EQ(loaded->files[0].path, rules);
  EXPECT_EQ(loaded->files[0].rules, 1u);
  EXPECT_EQ(loaded->files[0].lists, 1u);
  EXPECT_EQ(loaded->files[1].rules, 0u);
  EXPECT_EQ(loaded->files[1].lists, 1u);
}

TEST(RulesLoader, DetectorSettingsChangeTheDefaults) {
  TempDir dir;
  const std::string path =
      dir.WriteFile("detectors.yaml",
                    "lists:\n"
                    "  mine: [12000, 12001]\n"
                    "detectors:\n"
                    "  unexpected_listener: {enabled: false, severity: critical, mitre: T1205}\n"
                    "  dynamic_range_listener: {udp: false, udp_settle: 5s}\n"
                    "  service_owner: {owners: {\"22\": [sshd], \"8443\": [caddy]}}\n"
                    "  sensitive_exposed: {ports: [\"7000-7001\"]}\n"
                    "  backdoor_port: {ports: [$mine]}\n"
                    "  suspicious_exe: {dirs: [\"/opt/stage/\", \"/tmp/\"]}\n"
                    "  raw_socket: {programs: [tcpdump]}\n"
                    "  fan_out: {ports: 20, hosts: 10, window: 5m}\n"
                    "  syn_flood: {syn_recv: 64}\n"
                    "  privileged_port:\n"
                    "    enabled: true\n"
                    "    except:\n"
                    "      - process: [nginx]\n"
                    "  new_outbound: {enabled: true, severity: info}\n");
  Result<RuleSet> loaded = LoadRules({path});
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  const DetectorsConfig& detectors = loaded->detectors;
  const DetectorsConfig defaults = DefaultDetectors();
  EXPECT_FALSE(detectors.unexpected_listener.enabled);
  EXPECT_EQ(detectors.unexpected_listener.severity, Severity::kCritical);
  EXPECT_EQ(detectors.unexpected_listener.mitre, "T1205");
  EXPECT_FALSE(detectors.dynamic_range_udp);
  EXPECT_EQ(detectors.dynamic_range_udp_settle, std::chrono::seconds(5));
  EXPECT_EQ(detectors.unexpected_listener_udp_settle, defaults.unexpected_listener_udp_settle);
  // A port given replaces its list; the others keep theirs.
  EXPECT_THAT(detectors.service_owners.at(22), ElementsAre("sshd"));
  EXPECT_THAT(detectors.service_owners.at(8443), ElementsAre("caddy"));
  EXPECT_EQ(detectors.service_owners.at(5432), defaults.service_owners.at(5432));
  // Ports, directories and programs are added to the built-in ones.
  EXPECT_TRUE(detectors.sensitive_ports.Contains(7001));
  EXPECT_TRUE(detectors.sensitive_ports.Contains(5432));
  EXPECT_TRUE(detectors.backdoor_ports.Contains(12001));
  EXPECT_TRUE(detectors.backdoor_ports.Contains(4444));
  EXPECT_EQ(detectors.suspicious_dirs.size(), defaults.suspicious_dirs.size() + 1);
  EXPECT_EQ(detectors.suspicious_dirs.back(), "/opt/stage/");
  EXPECT_EQ(detectors.raw_socket_programs.back(), "tcpdump");
  EXPECT_EQ(detectors.raw_socket_programs.size(), defaults.raw_socket_programs.size() + 1);
  EXPECT_EQ(detectors.fan_out_ports, 20);
  EXPECT_EQ(detectors.fan_out_hosts, 10);
  EXPECT_EQ(detectors.fan_out_window, std::chrono::minutes(5));
  EXPECT_EQ(detectors.syn_recv_threshold, 64);
  EXPECT_TRUE(detectors.privileged_port.enabled);
  ASSERT_THAT(detectors.privileged_port.exceptions, SizeIs(1));
  EXPECT_THAT(detectors.privileged_port.exceptions[0].process_names, ElementsAre("nginx"));
  EXPECT_EQ(detectors.privileged_port.exceptions[0].source, path + ":16");
  EXPECT_TRUE(detectors.new_outbound.enabled);
  EXPECT_EQ(detectors.new_outbound.severity, Severity::kInfo);
  // Untouched detectors keep their built-in settings.
  EXPECT_EQ(detectors.backdoor_port.mitre, defaults.backdoor_port.mitre);
  EXPECT_EQ(detectors.syn_flood.severity, defaults.syn_flood.severity);
}

TEST(RulesLoader, ReadsExePackageAndSha256Tests) {
  TempDir dir;
  const std::string path = dir.WriteFile(
      "identity.yaml",
      "rules:\n"
      "  - id: r\n"
      "    description: d\n"
      "    severity: low\n"
      "    when:\n"
      "      exe: [/usr/sbin/sshd, \"/usr/lib/jvm/*/bin/java\"]\n"
      "      package: [openssh-server]\n"
      "      sha256: E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855\n"
      "  - id: bad\n"
      "    description: d\n"
      "    severity: low\n"
      "    when: {sha256: abc, exe: usr/sbin/sshd}\n");
  Result<RuleSet> loaded = LoadRules({path});
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(loaded.error().message,
              HasSubstr(path + ":12: rule 'bad' when.sha256: 'abc' is not a SHA-256; give the 64 "
                               "hex digits sha256sum prints"));
  EXPECT_THAT(loaded.error().message,
              HasSubstr("when.exe: 'usr/sbin/sshd' is a relative path; give the executable's "
                        "absolute path"));
  dir.WriteFile("identity.yaml",
                "rules:\n"
                "  - id: r\n"
                "    description: d\n"
                "    severity: low\n"
                "    when:\n"
                "      exe: [/usr/sbin/sshd]\n"
                "      package: [openssh-server]\n"
                "      sha256: E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855\n");
  Result<LoadedRules> good = LoadRulesWithSummary({path});
  ASSERT_TRUE(good.ok()) << good.error().message;
  const Condition& when = good->rule_set.rules.at(0).condition;
  EXPECT_THAT(when.packages, ElementsAre("openssh-server"));
  EXPECT_THAT(when.sha256s,
              ElementsAre("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
  EXPECT_THAT(good->warnings, IsEmpty());
}

TEST(RulesLoader, WarnsWhereAProcessIsMatchedByAName) {
  TempDir dir;
  const std::string path =
      dir.WriteFile("names.yaml",
                    "lists:\n"
                    "  daemons: [sshd]\n"
                    "rules:\n"
                    "  - id: r\n"
                    "    description: d\n"
                    "    severity: low\n"
                    "    when: {local_port: 22}\n"
                    "    except: {process: [$daemons]}\n"
                    "detectors:\n"
                    "  service_owner: {owners: {\"22\": [sshd, /usr/sbin/sshd]}}\n"
                    "  raw_socket: {programs: [\"/usr/sbin/lldpd\", tcpdump]}\n");
  Result<LoadedRules> loaded = LoadRulesWithSummary({path});
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;  // warnings do not stop the load
  ASSERT_THAT(loaded->warnings, SizeIs(3));
  EXPECT_THAT(loaded->warnings[0],
              HasSubstr(path + ":8: rule 'r' except.process: 'sshd' matches the name a process "
                               "gives itself"));
  EXPECT_THAT(loaded->warnings[0], HasSubstr("match what it is instead: exe: /"));
  EXPECT_THAT(loaded->warnings[0], HasSubstr("(from $daemons at " + path + ":2)"));
  EXPECT_THAT(loaded->warnings[1],
              HasSubstr(path + ":10: detectors.service_owner.owners.22: 'sshd' is a name, and any "
                               "copy of a binary so named passes"));
  EXPECT_THAT(loaded->warnings[2], HasSubstr(path + ":11: detectors.raw_socket.programs: "
                                                    "'tcpdump' is a name"));
}

TEST(RulesLoader, ALaterFileOverridesADetectorSetting) {
  TempDir dir;
  const std::string first = dir.WriteFile("a.yaml", "detectors: {fan_out: {hosts: 5}}\n");
  const std::string second = dir.WriteFile("b.yaml", "detectors: {fan_out: {hosts: 7}}\n");
  Result<RuleSet> loaded = LoadRules({first, second});
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->detectors.fan_out_hosts, 7);
}

TEST(RulesLoader, TheShippedExampleLoads) {
  const std::string path = std::string(PORTWATCH_SOURCE_DIR) + "/packaging/rules.d/example.yaml";
  Result<LoadedRules> loaded = LoadRulesWithSummary({path});
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  const RuleSet& set = loaded->rule_set;
  ASSERT_THAT(set.rules, SizeIs(4));
  EXPECT_EQ(loaded->files.at(0).lists, 4u);
  EXPECT_THAT(loaded->warnings, IsEmpty());  // it names programs by what they are
  const Rule* db = Find(set, "db-exposed");
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->severity, Severity::kHigh);
  EXPECT_EQ(db->mitre, "T1190");
  EXPECT_TRUE(db->condition.local_ports->Contains(6379));
  EXPECT_TRUE(db->condition.local_ports->Contains(27018));
  EXPECT_TRUE(db->condition.local_ports->Contains(8050));
  EXPECT_FALSE(db->condition.local_ports->Contains(22));
  EXPECT_THAT(db->exceptions.at(0).exe_paths, ElementsAre("/usr/sbin/sshd", "/usr/sbin/nginx*"));
  EXPECT_THAT(db->exceptions.at(1).packages, ElementsAre("postgresql-*", "redis-server"));
  EXPECT_THAT(db->exceptions.at(2).sha256s,
              ElementsAre("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
  const Rule* lab = Find(set, "lab-admin-listener");
  ASSERT_NE(lab, nullptr);
  EXPECT_FALSE(lab->enabled);
  EXPECT_THAT(lab->condition.parents, ElementsAre("bash", "sh", "dash", "zsh"));
  EXPECT_TRUE(set.detectors.privileged_port.enabled);
  EXPECT_TRUE(set.detectors.new_outbound.enabled);
  EXPECT_THAT(set.detectors.service_owners.at(22),
              ElementsAre("/usr/sbin/sshd", "/usr/lib/openssh/sshd-session"));
}

// --- Problems -----------------------------------------------------------------------------

TEST(RulesLoader, UnknownKeysAreErrorsListingTheKnownOnes) {
  TempDir dir;
  const std::string path = dir.WriteFile("typos.yaml",
                                         "rule: []\n"
                                         "rules:\n"
                                         "  - id: r\n"
                                         "    description: d\n"
                                         "    sevrity: low\n"
                                         "    when:\n"
                                         "      porcess: nc\n"
                                         "detectors:\n"
                                         "  fanout: {}\n"
                                         "  fan_out: {window: 1m, limit: 3}\n");
  const std::vector<std::string> problems = ProblemsOf({path});
  EXPECT_THAT(problems, Contains(HasSubstr(path + ":1: unknown key 'rule'; known keys: "
                                                  "detectors, lists, rules")));
  EXPECT_THAT(problems, Contains(HasSubstr(path + ":5: unknown key 'sevrity' in rule 'r'; known "
                                                  "keys: description, enabled, except, id, mitre, "
                                                  "severity, when")));
  EXPECT_THAT(problems, Contains(HasSubstr(path + ":3: rule 'r': missing 'severity'")));
  EXPECT_THAT(problems, Contains(HasSubstr(path + ":7: unknown key 'porcess' in rule 'r' when; "
                                                  "known keys: category, direction, exe,")));
  EXPECT_THAT(problems, Contains(HasSubstr(path + ":9: unknown key 'fanout' in detectors; known "
                                                  "keys: backdoor_port, dynamic_range_listener,")));
  EXPECT_THAT(problems, Contains(HasSubstr(path + ":10: unknown key 'limit' in detectors.fan_out; "
                                                  "known keys: enabled, except, hosts, mitre, "
                                                  "ports, severity, window")));
  EXPECT_THAT(problems, SizeIs(6));
}

TEST(RulesLoader, BadValuesNameTheKeyTheValueAndTheForm) {
  TempDir dir;
  const std::string path = dir.WriteFile("bad.yaml",
                                         "rules:\n"
                                         "  - id: Bad_Id\n"
                                         "    description: d\n"
                                         "    severity: severe\n"
                                         "    mitre: ATT1190\n"
                                         "    enabled: maybe\n"
                                         "    when:\n"
                                         "      protocol: sctp\n"
                                         "      state: listning\n"
                                         "      local_port: [22, 70000, 9000-8000, ssh]\n"
                                         "      remote: [10.0.0.1/8, 300.1.1.1]\n"
                                         "      exposure: everywhere\n"
                                         "      uid: [-1]\n"
                                         "      process: a-very-long-process-name\n");
  const std::vector<std::string> problems = ProblemsOf({path});
  EXPECT_THAT(
      problems,
      ElementsAre(
          path +
              ":2: rule 'Bad_Id': 'Bad_Id' is not a rule id; use lowercase letters, digits, '.', "
              "'_' and '-', starting with a letter or digit",
          path + ":4: rule 'Bad_Id' severity: 'severe' is not a severity; use one of info, low, "
                 "medium, high, critical",
          path + ":5: rule 'Bad_Id' mitre: 'ATT1190' is not an ATT&CK technique id; use the form "
                 "T1234 or T1234.001",
          path + ":6: rule 'Bad_Id' enabled: 'maybe' is not true or false",
          path + ":8: rule 'Bad_Id' when.protocol: 'sctp' is not a protocol; use one of tcp, udp, "
                 "raw, packet",
          ::testing::StartsWith(path + ":9: rule 'Bad_Id' when.state: 'listning' is not a socket "
                                       "state; use a name such as listen,"),
          path + ":10: rule 'Bad_Id' when.local_port: '70000' is out of range; ports are 0-65535",
          path + ":10: rule 'Bad_Id' when.local_port: '9000-8000' is a reversed range; write "
                 "8000-9000",
          path + ":10: rule 'Bad_Id' when.local_port: 'ssh' is not a port; use a number 0-65535 or "
                 "a range such as 8000-8100",
          path + ":11: rule 'Bad_Id' when.remote: '10.0.0.1/8' has host bits set; did you mean "
                 "10.0.0.0/8?",
          ::testing::StartsWith(path + ":11: rule 'Bad_Id' when.remote: '300.1.1.1' is not an "
                                       "address or CIDR block"),
          path + ":12: rule 'Bad_Id' when.exposure: 'everywhere' is not an exposure; use one of "
                 "none, loopback, address, all",
          path + ":13: rule 'Bad_Id' when.uid: '-1' is not a uid; use a number such as 0 or 1000",
          path + ":14: rule 'Bad_Id' when.process: 'a-very-long-process-name' is longer than 15 "
                 "characters, and process names are cut to 15: write 'a-very-long-pro*', or match "
                 "the executable with exe"));
}

TEST(RulesLoader, WrongTypesAreErrors) {
  TempDir dir;
  const std::string path = dir.WriteFile("types.yaml",
                                         "rules:\n"
                                         "  - id: r\n"
                                         "    description: [d]\n"
                                         "    severity: low\n"
                                         "    when:\n"
                                         "      process: {name: nc}\n"
                                         "      user: [[root]]\n"
                                         "    except: sshd\n"
                                         "  - just a string\n"
                                         "detectors:\n"
                                         "  fan_out: [1]\n"
                                         "  syn_flood: {syn_recv: 0}\n");
  EXPECT_THAT(ProblemsOf({path}),
              ElementsAre(path + ":3: rule 'r' description: expected a sentence saying what the "
                                 "rule finds, not a list",
                          path + ":6: rule 'r' when.process: expected a value or a list of "
                                 "values, not a mapping",
                          path + ":7: rule 'r' when.user: expected single values in the list, "
                                 "not a list",
                          path + ":8: rule 'r' except: expected a condition or a list of "
                                 "conditions, such as [{process: sshd}], not a single value",
                          path + ":9: rules: entry 2 is a single value; expected a rule, a "
                                 "mapping with id, description, severity and when",
                          path + ":11: detectors.fan_out: expected a mapping of settings such as "
                                 "{enabled: false}, not a list",
                          path + ":12: detectors.syn_flood.syn_recv: '0' is not a whole number "
                                 "above 0"));
}

TEST(RulesLoader, MissingKeysAndEmptyConditionsAreErrorsAtTheRule) {
  TempDir dir;
  const std::string path = dir.WriteFile("missing.yaml",
                                         "rules:\n"
                                         "  - description: no id\n"
                                         "    severity: low\n"
                                         "    when: {protocol: tcp}\n"
                                         "  - id: no-when\n"
                                         "    description: d\n"
                                         "    severity: low\n"
                                         "  - id: tests-nothing\n"
                                         "    description: d\n"
                                         "    severity: low\n"
                                         "    when: {}\n"
                                         "  - id: empty-when\n"
                                         "    description: d\n"
                                         "    severity: low\n"
                                         "    when:\n"
                                         "    except: [{}]\n"
                                         "  - id: empty-list\n"
                                         "    description: \"\"\n"
                                         "    severity: low\n"
                                         "    when:\n"
                                         "      process: []\n");
  const std::vector<std::string> problems = ProblemsOf({path});
  EXPECT_THAT(problems, Contains(path + ":2: rule #1: missing 'id'; give each rule an id such as "
                                        "db-exposed"));
  EXPECT_THAT(problems, Contains(HasSubstr(path + ":5: rule 'no-when': missing 'when'; give the "
                                                  "condition")));
  EXPECT_THAT(problems, Contains(HasSubstr(path + ":11: rule 'tests-nothing' when: tests nothing; "
                                                  "give at least one of category, direction,")));
  EXPECT_THAT(problems, Contains(HasSubstr(path + ":15: rule 'empty-when' when: tests nothing")));
  EXPECT_THAT(problems, Contains(HasSubstr(path + ":16: rule 'empty-when' except: tests nothing")));
  EXPECT_THAT(problems, Contains(path + ":18: rule 'empty-list' description: is empty; expected "
                                        "a sentence saying what the rule finds"));
  EXPECT_THAT(problems, Contains(path + ":21: rule 'empty-list' when.process: the list is empty; "
                                        "leave the key out to match anything"));
  EXPECT_THAT(problems, SizeIs(7));
}

TEST(RulesLoader, ListProblemsNameTheListAndWhereItIsUsed) {
  TempDir dir;
  const std::string path = dir.WriteFile("lists.yaml",
                                         "lists:\n"
                                         "  ports: [22, http]\n"
                                         "  nested: [$ports]\n"
                                         "  mapped: {a: 1}\n"
                                         "  \"bad name\": [1]\n"
                                         "rules:\n"
                                         "  - id: r\n"
                                         "    description: d\n"
                                         "    severity: low\n"
                                         "    when:\n"
                                         "      local_port: [$ports]\n"
                                         "      process: $prots\n");
  EXPECT_THAT(
      ProblemsOf({path}),
      ElementsAre(
          path + ":3: lists.nested: '$ports': a list may not use another list; write its values "
                 "here",
          path + ":4: lists.mapped: expected a list of values such as [22, 80], not a mapping",
          path + ":5: lists: 'bad name' is not a list name; use letters, digits, '_', and '-' or "
                 "'.' after the first",
          path +
              ":11: rule 'r' when.local_port: 'http' is not a port; use a number 0-65535 or a "
              "range such as 8000-8100 (from $ports at " +
              path + ":2)",
          path + ":12: rule 'r' when.process: '$prots' is not a defined list; the lists defined "
                 "are mapped, nested, ports"));
}

TEST(RulesLoader, DuplicateKeysAreErrors) {
  TempDir dir;
  const std::string path = dir.WriteFile("twice.yaml",
                                         "rules:\n"
                                         "  - id: r\n"
                                         "    description: d\n"
                                         "    severity: low\n"
                                         "    severity: high\n"
                                         "    when: {process: a, process: b}\n");
  EXPECT_THAT(ProblemsOf({path}),
              ElementsAre(path + ":5: duplicate key 'severity' in rule 'r'; it is also at line 4",
                          path + ":6: duplicate key 'process' in rule 'r' when; it is also at "
                                 "line 6"));
}

TEST(RulesLoader, RuleIdsAndListNamesAreUniqueAcrossFiles) {
  TempDir dir;
  const std::string rule = OneRule("      uid: 0\n");
  const std::string first = dir.WriteFile("a.yaml", "lists: {shared: [1]}\n" + rule);
  const std::string second = dir.WriteFile("b.yaml", rule + "lists: {shared: [2]}\n");
  EXPECT_THAT(ProblemsOf({first, second}),
              ElementsAre(second + ":2: rule 'r': the id 'r' is already used by the rule at " +
                              first + ":3; rule ids must be unique across the rules files",
                          second + ":7: lists.shared: the list 'shared' is already defined at " +
                              first + ":1; define each list once across the rules files"));
}

TEST(RulesLoader, ReportsTheProblemsOfEveryFile) {
  TempDir dir;
  const std::string good = dir.WriteFile("good.yaml", OneRule("      uid: 0\n"));
  const std::string bad_port = dir.WriteFile("port.yaml",
                                             "detectors: {backdoor_port: {ports: "
                                             "[99999]}}\n");
  const std::string broken = dir.WriteFile("broken.yaml", "rules: [\n");
  const std::string missing = dir.path() + "/missing.yaml";
  const std::string list = dir.WriteFile("list.yaml", "- 1\n");
  const std::string window = dir.WriteFile("window.yaml",
                                           "\n\ndetectors:\n  fan_out:\n"
                                           "    window: soon\n");
  const std::vector<std::string> problems =
      ProblemsOf({good, bad_port, broken, missing, dir.path(), list, window});
  ASSERT_THAT(problems, SizeIs(6));
  EXPECT_EQ(problems[0], bad_port +
                             ":1: detectors.backdoor_port.ports: '99999' is out of range; "
                             "ports are 0-65535");
  EXPECT_THAT(problems[1], HasSubstr(broken + ":2: not valid YAML"));
  EXPECT_EQ(problems[2], "cannot read rules file " + missing + ": no such file or not readable");
  EXPECT_EQ(problems[3], "cannot read rules file " + dir.path() +
                             ": it is a directory; give the "
                             "files in it");
  EXPECT_EQ(problems[4], list +
                             ":1: expected a mapping with the keys detectors, lists, rules, "
                             "not a list");
  EXPECT_THAT(problems[5], HasSubstr(window + ":5: detectors.fan_out.window: 'soon' is not a "
                                              "duration"));
}

TEST(RulesLoader, AMissingValueIsReportedAtItsKey) {
  TempDir dir;
  // yaml-cpp places a missing value where the next key starts: the line must be the key's.
  const std::string path = dir.WriteFile("gap.yaml",
                                         "rules:\n"
                                         "  - id: r\n"
                                         "    description: d\n"
                                         "    severity:\n"
                                         "    when:\n"
                                         "      state:\n"
                                         "\n"
                                         "      uid: 0\n");
  EXPECT_THAT(ProblemsOf({path}),
              ElementsAre(path + ":4: rule 'r' severity: expected a severity: info, low, medium, "
                                 "high, critical, not nothing",
                          path + ":6: rule 'r' when.state: expected a value or a list of values, "
                                 "not nothing"));
}

TEST(RulesLoader, DetectorOwnersNeedOnePortEach) {
  TempDir dir;
  const std::string path = dir.WriteFile("owners.yaml",
                                         "detectors:\n"
                                         "  service_owner:\n"
                                         "    owners:\n"
                                         "      \"22-23\": [sshd]\n"
                                         "      \"80\": []\n"
                                         "  suspicious_exe: {dirs: [tmp]}\n");
  EXPECT_THAT(ProblemsOf({path}),
              ElementsAre(path + ":4: detectors.service_owner.owners: '22-23' is not a port; "
                                 "give the programs of one port, 0-65535, at a time",
                          path + ":5: detectors.service_owner.owners.80: the list is empty; give "
                                 "the programs allowed to hold the port",
                          path + ":6: detectors.suspicious_exe.dirs: 'tmp' is not an absolute "
                                 "directory; use a path such as /opt/stage/"));
}

}  // namespace
}  // namespace portwatch::agent::rules
