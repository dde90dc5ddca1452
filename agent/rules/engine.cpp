#include "agent/rules/engine.h"

#include <algorithm>
#include <unordered_map>

#include "agent/rules/detectors/detectors.h"
#include "agent/rules/subject.h"
#include "collectors/collector.h"

namespace portwatch::agent::rules {

namespace {

// Parent names from the snapshot's processes first, then from the system, once per evaluation.
class SnapshotContext final : public ConditionContext {
 public:
  SnapshotContext(const collectors::Snapshot& snapshot, ExeFacts& facts)
      : snapshot_(snapshot), facts_(facts) {}

  std::optional<std::string> ExeSha256(const collectors::Process& process) override {
    const auto [cached, inserted] = sha256s_.try_emplace(&process);
    if (inserted) cached->second = facts_.Sha256(process);
    return cached->second;
  }

  std::string ExePackage(const collectors::Process& process) override {
    const auto [cached, inserted] = packages_.try_emplace(&process);
    if (inserted) cached->second = facts_.Package(process);
    return cached->second;
  }

  std::string ParentName(int32_t ppid) override {
    const auto cached = names_.find(ppid);
    if (cached != names_.end()) return cached->second;
    std::string name;
    const auto owner =
        std::find_if(snapshot_.processes.begin(), snapshot_.processes.end(),
                     [ppid](const collectors::Process& process) { return process.pid == ppid; });
    name = owner != snapshot_.processes.end() ? owner->name : collectors::ProcessName(ppid);
    names_.emplace(ppid, name);
    return name;
  }

 private:
  const collectors::Snapshot& snapshot_;
  ExeFacts& facts_;
  std::unordered_map<int32_t, std::string> names_;
  // Per process of this snapshot, so a rule over a thousand sockets asks once.
  std::unordered_map<const collectors::Process*, std::optional<std::string>> sha256s_;
  std::unordered_map<const collectors::Process*, std::string> packages_;
};

}  // namespace

Engine::Engine(const RuleSet& rules)
    : detectors_(MakeDetectors(rules.detectors)), exe_facts_(std::make_shared<ExeFacts>()) {
  for (const Rule& rule : rules.rules) {
    if (rule.enabled) rules_.push_back(rule);
  }
}

Engine::Engine(Engine&&) noexcept = default;
Engine& Engine::operator=(Engine&&) noexcept = default;
Engine::~Engine() = default;

bool Engine::Excepted(const std::vector<Condition>& exceptions,
                      const collectors::Snapshot& snapshot, const Finding& finding,
                      ConditionContext& context) const {
  if (exceptions.empty()) return false;
  // A finding about a process as a whole has no socket: its exceptions can only test the process.
  static const collectors::Socket kNoSocket{};
  const collectors::Socket& socket =
      finding.socket >= 0 ? snapshot.sockets[static_cast<size_t>(finding.socket)] : kNoSocket;
  const collectors::Process* owner = finding.process >= 0
                                         ? &snapshot.processes[static_cast<size_t>(finding.process)]
                                     : finding.socket >= 0 ? snapshot.PrimaryOwner(socket)
                                                           : nullptr;
  return std::any_of(exceptions.begin(), exceptions.end(), [&](const Condition& exception) {
    return Matches(exception, socket, owner, context);
  });
}

void Engine::SetAccepted(const std::vector<store::Acceptance>& acceptances) {
  accepted_.clear();
  for (const store::Acceptance& acceptance : acceptances) {
    accepted_[acceptance.subject][acceptance.rule] = acceptance;
  }
}

bool Engine::Accepted(const collectors::Snapshot& snapshot, const Finding& finding) const {
  const auto subject = accepted_.find(finding.subject);
  if (subject == accepted_.end()) return false;
  const auto rule = subject->second.find(finding.rule);
  if (rule == subject->second.end()) return false;
  const store::Acceptance& accepted = rule->second;
  if (static_cast<int>(finding.severity) > accepted.severity) return false;
  const collectors::Process* owner = nullptr;
  if (finding.process >= 0) {
    owner = &snapshot.processes[static_cast<size_t>(finding.process)];
  } else if (finding.socket >= 0) {
    owner = snapshot.PrimaryOwner(snapshot.sockets[static_cast<size_t>(finding.socket)]);
  }
  if (owner == nullptr) return accepted.exe.empty() && accepted.exe_inode == 0;
  if (!accepted.exe.empty() && owner->exe != accepted.exe) return false;
  // The same path with another file behind it (replaced, or exec'd into) is not what was accepted.
  if (accepted.exe_inode != 0 && owner->exe_inode != 0 &&
      (owner->exe_device != accepted.exe_device || owner->exe_inode != accepted.exe_inode ||
       owner->exe_mtime_ns != accepted.exe_mtime_ns)) {
    return false;
  }
  return true;
}

std::vector<Finding> Engine::Evaluate(const collectors::Snapshot& snapshot, int64_t now_ms) {
  SnapshotContext context(snapshot, *exe_facts_);
  std::vector<Finding> findings;

  // 1. The built-in detectors, each less its exceptions.
  DetectionInput input{snapshot, now_ms, baseline_ ? &*baseline_ : nullptr, previous_host_};
  std::vector<Finding> found;
  for (const std::unique_ptr<Detector>& detector : detectors_) {
    found.clear();
    detector->Inspect(input, found);
    for (Finding& finding : found) {
      if (!Excepted(detector->settings().exceptions, snapshot, finding, context)) {
        findings.push_back(std::move(finding));
      }
    }
  }
  previous_host_ = snapshot.host;

  // 2. The rules files' rules, over every socket.
  if (!rules_.empty()) {
    for (size_t i = 0; i < snapshot.sockets.size(); ++i) {
      const collectors::Socket& socket = snapshot.sockets[i];
      const collectors::Process* owner = snapshot.PrimaryOwner(socket);
      for (const Rule& rule : rules_) {
        if (!Matches(rule.condition, socket, owner, context)) continue;
        const bool excepted = std::any_of(
            rule.exceptions.begin(), rule.exceptions.end(),
            [&](const Condition& exception) { return Matches(exception, socket, owner, context); });
        if (excepted) continue;
        Finding finding;
        finding.rule = rule.id;
        finding.severity = rule.severity;
        finding.mitre = rule.mitre;
        finding.reason = rule.description;
        finding.subject = SocketSubject(socket, owner);
        finding.kind = SocketSubjectKind(socket);
        finding.socket = static_cast<int64_t>(i);
        findings.push_back(std::move(finding));
      }
    }
  }

  // 3. The agent's own sockets are not news.
  if (self_pid_ != 0) {
    std::erase_if(findings, [&](const Finding& finding) {
      const collectors::Process* owner = nullptr;
      if (finding.socket >= 0) {
        owner = snapshot.PrimaryOwner(snapshot.sockets[static_cast<size_t>(finding.socket)]);
      } else if (finding.process >= 0) {
        owner = &snapshot.processes[static_cast<size_t>(finding.process)];
      }
      return owner != nullptr && owner->pid == self_pid_;
    });
  }

  // 4. What an operator accepted, as it was accepted, is not reported again.
  if (!accepted_.empty()) {
    std::erase_if(findings, [&](const Finding& finding) { return Accepted(snapshot, finding); });
  }
  return findings;
}

}  // namespace portwatch::agent::rules
