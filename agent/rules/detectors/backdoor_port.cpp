// 5. A known backdoor, C2 or mining-pool port, as a local listener or as the remote port of a
//    connection this host made (ATT&CK T1571, Non-Standard Port).
#include <fmt/format.h>

#include "agent/rules/detectors/detectors.h"

namespace portwatch::agent::rules {

namespace {

using collectors::Direction;

class BackdoorPort final : public Detector {
 public:
  explicit BackdoorPort(const DetectorsConfig& config)
      : Detector("backdoor_port", config.backdoor_port), ports_(config.backdoor_ports) {}

  void Inspect(const DetectionInput& input, std::vector<Finding>& findings) override {
    const collectors::Snapshot& snapshot = input.snapshot;
    for (size_t i = 0; i < snapshot.sockets.size(); ++i) {
      const collectors::Socket& socket = snapshot.sockets[i];
      if (!socket.HasPorts()) continue;
      if (socket.direction == Direction::kListen && ports_.Contains(socket.local.port)) {
        AboutSocket(
            snapshot, i,
            fmt::format("listens on {}, a port used by backdoors and C2 tools", socket.local.port),
            findings);
      } else if (socket.direction == Direction::kOutbound && ports_.Contains(socket.remote.port)) {
        AboutSocket(snapshot, i,
                    fmt::format("connects to remote port {}, used by backdoors, C2 and mining "
                                "pools",
                                socket.remote.port),
                    findings);
      }
    }
  }

 private:
  PortSet ports_;
};

}  // namespace

std::unique_ptr<Detector> MakeBackdoorPort(const DetectorsConfig& config) {
  return std::make_unique<BackdoorPort>(config);
}

}  // namespace portwatch::agent::rules
