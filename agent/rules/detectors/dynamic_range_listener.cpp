// 2. A listener inside the ephemeral port range, where the kernel picks client ports and no
//    service is assigned: a common hiding place for a backdoor. TCP listeners, and bound,
//    unconnected UDP sockets once open for udp_settle (a resolver's query sockets live there for
//    a round trip; udp_settle.h).
#include <fmt/format.h>

#include "agent/rules/detectors/detectors.h"
#include "agent/rules/udp_settle.h"

namespace portwatch::agent::rules {

namespace {

class DynamicRangeListener final : public Detector {
 public:
  explicit DynamicRangeListener(const DetectorsConfig& config)
      : Detector("dynamic_range_listener", config.dynamic_range_listener),
        udp_(config.dynamic_range_udp),
        settle_(config.dynamic_range_udp_settle) {}

  void Inspect(const DetectionInput& input, std::vector<Finding>& findings) override {
    const collectors::Snapshot& snapshot = input.snapshot;
    const collectors::HostNetwork& host = snapshot.host;
    if (udp_) settle_.Update(snapshot, input.now_ms);
    for (size_t i = 0; i < snapshot.sockets.size(); ++i) {
      const collectors::Socket& socket = snapshot.sockets[i];
      if (socket.direction != collectors::Direction::kListen) continue;
      if (socket.protocol != collectors::Protocol::kTcp &&
          !(udp_ && socket.protocol == collectors::Protocol::kUdp)) {
        continue;
      }
      const uint16_t port = socket.local.port;
      if (port < host.ephemeral_first || port > host.ephemeral_last) continue;
      if (!settle_.Settled(socket, host)) continue;
      AboutSocket(snapshot, i,
                  fmt::format("port {} is in the ephemeral range {}-{} (ip_local_port_range), "
                              "where no service is assigned",
                              port, host.ephemeral_first, host.ephemeral_last),
                  findings);
    }
  }

 private:
  bool udp_;
  UdpSettle settle_;
};

}  // namespace

std::unique_ptr<Detector> MakeDynamicRangeListener(const DetectorsConfig& config) {
  return std::make_unique<DynamicRangeListener>(config);
}

}  // namespace portwatch::agent::rules
