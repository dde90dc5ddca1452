// Engine: runs the built-in detectors and the rules files' rules over each snapshot.
//
// Evaluate looks at the whole snapshot every interval (no socket is skipped because it was seen
// before), so a finding lasts exactly as long as its condition; the AlertTracker turns that into
// alerts that open, repeat and resolve. Exceptions and accepted subjects are applied here, so
// every finding returned is meant. Not thread-safe: one thread runs it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/rules/baseline.h"
#include "agent/rules/detector.h"
#include "agent/rules/exe_facts.h"
#include "agent/rules/finding.h"
#include "agent/rules/rule.h"
#include "store/alerts.h"

namespace portwatch::agent::rules {

class Engine {
 public:
  explicit Engine(const RuleSet& rules);
  Engine(Engine&&) noexcept;
  Engine& operator=(Engine&&) noexcept;
  ~Engine();

  // What unexpected_listener compares against; nullopt while there is none (being learned).
  void SetBaseline(std::optional<Baseline> baseline) { baseline_ = std::move(baseline); }
  const std::optional<Baseline>& baseline() const { return baseline_; }
  // What operators accepted, per (subject, rule): a finding is dropped only when its subject and
  // rule were accepted, at its severity or higher, with the executable it has now (path, and
  // device, inode and mtime where both sides know them). A new rule, a higher severity or a
  // changed executable is reported.
  void SetAccepted(const std::vector<store::Acceptance>& acceptances);
  // The agent's own pid: findings whose evidence is one of its sockets are dropped, so the agent
  // never alerts on its API listener or its webhook connections. 0 (the default): none.
  void SetSelf(int32_t pid) { self_pid_ = pid; }
  // Where `sha256:` and `package:` conditions get their answers (by default the real /proc and
  // dpkg database); shared, so a reloaded engine can keep the hashes already computed.
  void SetExeFacts(std::shared_ptr<ExeFacts> facts) { exe_facts_ = std::move(facts); }
  const std::shared_ptr<ExeFacts>& exe_facts() const { return exe_facts_; }

  std::vector<Finding> Evaluate(const collectors::Snapshot& snapshot, int64_t now_ms);

  size_t detector_count() const { return detectors_.size(); }
  size_t rule_count() const { return rules_.size(); }

 private:
  bool Excepted(const std::vector<Condition>& exceptions, const collectors::Snapshot& snapshot,
                const Finding& finding, ConditionContext& context) const;

  std::vector<Rule> rules_;  // enabled ones only
  std::vector<std::unique_ptr<Detector>> detectors_;
  std::optional<Baseline> baseline_;
  bool Accepted(const collectors::Snapshot& snapshot, const Finding& finding) const;

  // By subject, then rule.
  std::unordered_map<std::string, std::unordered_map<std::string, store::Acceptance>> accepted_;
  int32_t self_pid_ = 0;
  std::optional<collectors::HostNetwork> previous_host_;
  std::shared_ptr<ExeFacts> exe_facts_;
};

}  // namespace portwatch::agent::rules
