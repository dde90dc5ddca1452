// 1. A listener the baseline does not allow.
#include <fmt/format.h>

#include "agent/rules/detectors/detectors.h"

namespace portwatch::agent::rules {

namespace {

class UnexpectedListener final : public Detector {
 public:
  explicit UnexpectedListener(const DetectorsConfig& config)
      : Detector("unexpected_listener", config.unexpected_listener) {}

  void Inspect(const DetectionInput& input, std::vector<Finding>& findings) override {
    if (input.baseline == nullptr) return;  // still learning what is expected
    const collectors::Snapshot& snapshot = input.snapshot;
    for (size_t i = 0; i < snapshot.sockets.size(); ++i) {
      const collectors::Socket& socket = snapshot.sockets[i];
      if (!IsBaselineListener(socket, snapshot.host)) continue;
      if (input.baseline->Allows(socket, snapshot.PrimaryOwner(socket))) continue;
      AboutSocket(snapshot, i,
                  fmt::format("{}/{} is not in the baseline of expected listeners",
                              collectors::ProtocolName(socket.protocol), socket.local.port),
                  findings);
    }
  }
};

}  // namespace

std::unique_ptr<Detector> MakeUnexpectedListener(const DetectorsConfig& config) {
  return std::make_unique<UnexpectedListener>(config);
}

}  // namespace portwatch::agent::rules
