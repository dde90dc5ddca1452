// 6. A socket held by an executable from a place programs are not installed to: a world-writable
//    temporary directory, a hidden directory, or a binary deleted after it started.
//
// A listener is reported as itself (so it collapses with the listener's other findings); any
// other socket as its process, so a tool from /tmp making a thousand connections is one alert.
#include <fmt/format.h>

#include "agent/rules/detectors/detectors.h"
#include "agent/rules/subject.h"

namespace portwatch::agent::rules {

namespace {

class SuspiciousExe final : public Detector {
 public:
  explicit SuspiciousExe(const DetectorsConfig& config)
      : Detector("suspicious_exe", config.suspicious_exe), dirs_(config.suspicious_dirs) {}

  void Inspect(const DetectionInput& input, std::vector<Finding>& findings) override {
    const collectors::Snapshot& snapshot = input.snapshot;
    // Judge each process once, and report each process once for its non-listening sockets.
    std::vector<std::string> why(snapshot.processes.size());
    std::vector<uint8_t> state(snapshot.processes.size(), 0);  // 0 unjudged, 1 fine, 2 bad
    std::vector<uint8_t> reported(snapshot.processes.size(), 0);
    for (size_t i = 0; i < snapshot.sockets.size(); ++i) {
      const collectors::Socket& socket = snapshot.sockets[i];
      if (socket.owner_count == 0) continue;
      const uint32_t process = snapshot.owner_indices[socket.owners_begin];
      if (state[process] == 0) {
        why[process] = Judge(snapshot.processes[process]);
        state[process] = why[process].empty() ? 1 : 2;
      }
      if (state[process] == 1) continue;
      if (socket.direction == collectors::Direction::kListen) {
        AboutSocket(snapshot, i, why[process], findings);
      } else if (!reported[process]) {
        reported[process] = 1;
        Finding finding =
            Make(why[process], ProcessSubject(snapshot.processes[process]), SubjectKind::kProcess);
        finding.socket = static_cast<int64_t>(i);
        finding.process = process;
        findings.push_back(std::move(finding));
      }
    }
  }

 private:
  // Why this process's executable is suspicious, or empty.
  std::string Judge(const collectors::Process& process) const {
    if (process.exe_deleted) {
      return fmt::format("its executable {} was deleted or replaced after it started", process.exe);
    }
    if (process.exe.empty()) return {};
    for (const std::string& dir : dirs_) {
      if (process.exe.starts_with(dir)) {
        return fmt::format("runs from {}, a temporary directory anyone can write to", process.exe);
      }
    }
    // A hidden directory anywhere on the path: "/.x/", not the file name itself.
    const size_t last_slash = process.exe.rfind('/');
    if (last_slash != std::string::npos &&
        process.exe.substr(0, last_slash + 1).find("/.") != std::string::npos) {
      return fmt::format("runs from a hidden directory: {}", process.exe);
    }
    return {};
  }

  std::vector<std::string> dirs_;
};

}  // namespace

std::unique_ptr<Detector> MakeSuspiciousExe(const DetectorsConfig& config) {
  return std::make_unique<SuspiciousExe>(config);
}

}  // namespace portwatch::agent::rules
