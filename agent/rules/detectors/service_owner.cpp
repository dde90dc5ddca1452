// 3. A well-known service port held by a program that is not that service: something posing as
//    sshd on 22, or squatting a database's port. What the program is is its executable's path
//    (/proc/PID/exe, set by the kernel at execve), never its name: prctl(PR_SET_NAME, "sshd") or
//    a copy of a binary at /usr/local/bin/sshd does not pass the built-in lists.
#include <fmt/format.h>

#include "agent/rules/detectors/detectors.h"

namespace portwatch::agent::rules {

namespace {

class ServiceOwner final : public Detector {
 public:
  explicit ServiceOwner(const DetectorsConfig& config)
      : Detector("service_owner", config.service_owner), owners_(config.service_owners) {}

  void Inspect(const DetectionInput& input, std::vector<Finding>& findings) override {
    const collectors::Snapshot& snapshot = input.snapshot;
    for (size_t i = 0; i < snapshot.sockets.size(); ++i) {
      const collectors::Socket& socket = snapshot.sockets[i];
      if (socket.direction != collectors::Direction::kListen || !socket.HasPorts()) continue;
      const auto expected = owners_.find(socket.local.port);
      if (expected == owners_.end() || expected->second.empty()) continue;
      const collectors::Process* owner = snapshot.PrimaryOwner(socket);
      if (owner == nullptr || ProgramIsOneOf(expected->second, *owner)) continue;
      AboutSocket(
          snapshot, i,
          fmt::format("port {} is held by {} (named '{}'), which is not one of the "
                      "programs allowed there: {}",
                      socket.local.port, owner->exe.empty() ? "an unknown executable" : owner->exe,
                      owner->name, fmt::join(expected->second, ", ")),
          findings);
    }
  }

 private:
  std::map<uint16_t, std::vector<std::string>> owners_;
};

}  // namespace

std::unique_ptr<Detector> MakeServiceOwner(const DetectorsConfig& config) {
  return std::make_unique<ServiceOwner>(config);
}

}  // namespace portwatch::agent::rules
