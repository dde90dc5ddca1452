// 11. A program connecting to a remote address and port it has not connected to since the agent
//     started. The first snapshot only learns; off by default, since busy clients meet new
//     addresses all day.
//
// Only connections not seen before are looked at, so a lasting connection costs one hash lookup
// per interval; one to a new destination keeps the finding alive while it lasts.
#include <fmt/format.h>

#include <unordered_map>
#include <unordered_set>

#include "agent/rules/detectors/detectors.h"
#include "agent/rules/subject.h"
#include "collectors/snapshot_diff.h"

namespace portwatch::agent::rules {

namespace {

// Bounds memory on a host that talks to the whole Internet: past it, the knowledge is dropped
// and the detector learns again.
constexpr size_t kMaxKnown = 200'000;

class NewOutbound final : public Detector {
 public:
  explicit NewOutbound(const DetectorsConfig& config)
      : Detector("new_outbound", config.new_outbound) {}

  void Inspect(const DetectionInput& input, std::vector<Finding>& findings) override {
    const collectors::Snapshot& snapshot = input.snapshot;
    if (destinations_.size() > kMaxKnown) {
      destinations_.clear();
      started_ = false;
    }
    const bool learning = !started_;
    started_ = true;
    ++generation_;
    for (size_t i = 0; i < snapshot.sockets.size(); ++i) {
      const collectors::Socket& socket = snapshot.sockets[i];
      if (socket.direction != collectors::Direction::kOutbound) continue;
      // seen_: connection -> (generation last seen, whether it went somewhere new).
      const auto [entry, inserted] =
          seen_.try_emplace(collectors::SocketIdentity(socket), generation_, false);
      entry->second.first = generation_;
      if (inserted) {
        const collectors::Endpoint remote{socket.remote.address.Unmapped(), socket.remote.port};
        const bool fresh =
            destinations_
                .insert(fmt::format("{} {} {}", ProgramOf(snapshot.PrimaryOwner(socket)),
                                    collectors::ProtocolName(socket.protocol), remote.ToString()))
                .second;
        entry->second.second = fresh && !learning;
      }
      if (!entry->second.second) continue;
      AboutSocket(
          snapshot, i,
          fmt::format("first connection from this program to {}",
                      collectors::Endpoint{socket.remote.address.Unmapped(), socket.remote.port}
                          .ToString()),
          findings);
    }
    std::erase_if(seen_, [this](const auto& entry) { return entry.second.first != generation_; });
  }

 private:
  bool started_ = false;
  uint64_t generation_ = 0;
  std::unordered_set<std::string> destinations_;  // "program protocol address:port"
  std::unordered_map<uint64_t, std::pair<uint64_t, bool>> seen_;
};

}  // namespace

std::unique_ptr<Detector> MakeNewOutbound(const DetectorsConfig& config) {
  return std::make_unique<NewOutbound>(config);
}

}  // namespace portwatch::agent::rules
