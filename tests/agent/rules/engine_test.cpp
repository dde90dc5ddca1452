// Engine on built snapshots: what an operator accepted is dropped only as it was accepted — that
// rule on that subject, at most that severe, from that executable.

#include "agent/rules/engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "store/alerts.h"
#include "tests/support/snapshot_builder.h"

namespace portwatch::agent::rules {
namespace {

using portwatch::testing::Listener;
using portwatch::testing::Proc;
using portwatch::testing::SnapshotBuilder;

constexpr int64_t kT0 = 1'790'000'000'000;

// nc listening on 0.0.0.0:31337, its executable the file (device, inode, mtime) given.
collectors::Snapshot Backdoor(uint64_t inode, int64_t mtime_ns = 100) {
  collectors::Process nc = Proc(4242, 7, "nc");
  nc.exe_device = 2049;
  nc.exe_inode = inode;
  nc.exe_mtime_ns = mtime_ns;
  return SnapshotBuilder(kT0).Add(Listener(1, "0.0.0.0", 31337), nc).Build();
}

std::vector<std::string> Rules(const std::vector<Finding>& findings) {
  std::vector<std::string> rules;
  for (const Finding& finding : findings) rules.push_back(finding.rule);
  return rules;
}

bool Has(const std::vector<Finding>& findings, std::string_view rule) {
  return std::any_of(findings.begin(), findings.end(),
                     [&](const Finding& finding) { return finding.rule == rule; });
}

TEST(Engine, AnAcceptanceCoversItsRuleSeverityAndExecutableOnly) {
  Engine engine{RuleSet{}};
  const std::vector<Finding> before = engine.Evaluate(Backdoor(77), kT0);
  const auto backdoor = std::find_if(before.begin(), before.end(),
                                     [](const Finding& f) { return f.rule == "backdoor_port"; });
  ASSERT_NE(backdoor, before.end()) << ::testing::PrintToString(Rules(before));

  store::Acceptance accepted;
  accepted.subject = backdoor->subject;
  accepted.rule = "backdoor_port";
  accepted.severity = static_cast<int>(backdoor->severity);
  accepted.exe = "/usr/bin/nc";
  accepted.exe_device = 2049;
  accepted.exe_inode = 77;
  accepted.exe_mtime_ns = 100;
  engine.SetAccepted({accepted});
  EXPECT_FALSE(Has(engine.Evaluate(Backdoor(77), kT0), "backdoor_port"));

  // Another file at the same path (replaced: another inode, or rewritten: another mtime).
  EXPECT_TRUE(Has(engine.Evaluate(Backdoor(78), kT0), "backdoor_port"));
  EXPECT_TRUE(Has(engine.Evaluate(Backdoor(77, 101), kT0), "backdoor_port"));
  // Another path.
  store::Acceptance elsewhere = accepted;
  elsewhere.exe = "/opt/nc";
  engine.SetAccepted({elsewhere});
  EXPECT_TRUE(Has(engine.Evaluate(Backdoor(77), kT0), "backdoor_port"));
  // Accepted at a lower severity than it fires at now.
  store::Acceptance milder = accepted;
  milder.severity = static_cast<int>(backdoor->severity) - 1;
  engine.SetAccepted({milder});
  EXPECT_TRUE(Has(engine.Evaluate(Backdoor(77), kT0), "backdoor_port"));
  // Another rule on the same subject is not accepted by this one.
  store::Acceptance other_rule = accepted;
  other_rule.rule = "unexpected_listener";
  engine.SetAccepted({other_rule});
  EXPECT_TRUE(Has(engine.Evaluate(Backdoor(77), kT0), "backdoor_port"));
  // Acceptances from before identities were recorded compare nothing but the rule and severity.
  store::Acceptance migrated;
  migrated.subject = backdoor->subject;
  migrated.rule = "backdoor_port";
  migrated.severity = 5;
  engine.SetAccepted({migrated});
  EXPECT_FALSE(Has(engine.Evaluate(Backdoor(78), kT0), "backdoor_port"));
}

}  // namespace
}  // namespace portwatch::agent::rules
