// 10. A well-known port (below 1024) bound by a user other than root: possible only with
//     CAP_NET_BIND_SERVICE or a lowered net.ipv4.ip_unprivileged_port_start. Off by default.
#include <fmt/format.h>

#include "agent/rules/detectors/detectors.h"

namespace portwatch::agent::rules {

namespace {

class PrivilegedPort final : public Detector {
 public:
  explicit PrivilegedPort(const DetectorsConfig& config)
      : Detector("privileged_port", config.privileged_port) {}

  void Inspect(const DetectionInput& input, std::vector<Finding>& findings) override {
    const collectors::Snapshot& snapshot = input.snapshot;
    for (size_t i = 0; i < snapshot.sockets.size(); ++i) {
      const collectors::Socket& socket = snapshot.sockets[i];
      if (socket.direction != collectors::Direction::kListen || !socket.HasPorts() ||
          socket.local.port >= 1024 || socket.local.port == 0) {
        continue;
      }
      const collectors::Process* owner = snapshot.PrimaryOwner(socket);
      const uint32_t uid = owner ? owner->uid : socket.uid;
      if (uid == 0) continue;
      const bool lowered = snapshot.host.unprivileged_port_start <= socket.local.port;
      AboutSocket(snapshot, i,
                  fmt::format("user {} holds privileged port {} ({})",
                              owner ? owner->user : std::to_string(uid), socket.local.port,
                              lowered ? fmt::format("ip_unprivileged_port_start is {}",
                                                    snapshot.host.unprivileged_port_start)
                                      : "it has CAP_NET_BIND_SERVICE or inherited the socket"),
                  findings);
    }
  }
};

}  // namespace

std::unique_ptr<Detector> MakePrivilegedPort(const DetectorsConfig& config) {
  return std::make_unique<PrivilegedPort>(config);
}

}  // namespace portwatch::agent::rules
