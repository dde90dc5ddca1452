// 1. A listener the baseline does not allow: a TCP listener, or a bound, unconnected UDP socket
//    (one in the ephemeral range once it has been open for udp_settle, udp_settle.h).
#include <fmt/format.h>

#include "agent/rules/detectors/detectors.h"
#include "agent/rules/udp_settle.h"

namespace portwatch::agent::rules {

namespace {

class UnexpectedListener final : public Detector {
 public:
  explicit UnexpectedListener(const DetectorsConfig& config)
      : Detector("unexpected_listener", config.unexpected_listener),
        settle_(config.unexpected_listener_udp_settle) {}

  void Inspect(const DetectionInput& input, std::vector<Finding>& findings) override {
    const collectors::Snapshot& snapshot = input.snapshot;
    settle_.Update(snapshot, input.now_ms);  // also while learning: ages start at first sight
    if (input.baseline == nullptr) return;   // still learning what is expected
    for (size_t i = 0; i < snapshot.sockets.size(); ++i) {
      const collectors::Socket& socket = snapshot.sockets[i];
      if (!IsBaselineListener(socket) || !settle_.Settled(socket, snapshot.host)) continue;
      if (input.baseline->Allows(socket, snapshot.PrimaryOwner(socket))) continue;
      AboutSocket(snapshot, i,
                  fmt::format("{}/{} is not in the baseline of expected listeners",
                              collectors::ProtocolName(socket.protocol), socket.local.port),
                  findings);
    }
  }

 private:
  UdpSettle settle_;
};

}  // namespace

std::unique_ptr<Detector> MakeUnexpectedListener(const DetectorsConfig& config) {
  return std::make_unique<UnexpectedListener>(config);
}

}  // namespace portwatch::agent::rules
