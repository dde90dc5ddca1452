// 4. A database, cache, admin or container API listening on every interface.
#include <fmt/format.h>

#include "agent/rules/detectors/detectors.h"
#include "collectors/ports.h"

namespace portwatch::agent::rules {

namespace {

class SensitiveExposed final : public Detector {
 public:
  explicit SensitiveExposed(const DetectorsConfig& config)
      : Detector("sensitive_exposed", config.sensitive_exposed), ports_(config.sensitive_ports) {}

  void Inspect(const DetectionInput& input, std::vector<Finding>& findings) override {
    const collectors::Snapshot& snapshot = input.snapshot;
    for (size_t i = 0; i < snapshot.sockets.size(); ++i) {
      const collectors::Socket& socket = snapshot.sockets[i];
      if (socket.direction != collectors::Direction::kListen ||
          socket.exposure != collectors::Exposure::kAll || !ports_.Contains(socket.local.port)) {
        continue;
      }
      const std::string_view service = collectors::ServiceName(socket.local.port, socket.protocol);
      AboutSocket(snapshot, i,
                  fmt::format("{} port {} is open on every interface ({}); bind it to loopback "
                              "or one address",
                              service.empty() ? "sensitive service" : service, socket.local.port,
                              socket.local.ToString()),
                  findings);
    }
  }

 private:
  PortSet ports_;
};

}  // namespace

std::unique_ptr<Detector> MakeSensitiveExposed(const DetectorsConfig& config) {
  return std::make_unique<SensitiveExposed>(config);
}

}  // namespace portwatch::agent::rules
