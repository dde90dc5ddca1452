// 9. A listener drowning: many half-open connections (SYN_RECV) waiting on it, or its accept queue
//    full while the kernel's ListenOverflows / ListenDrops counters climb (ATT&CK T1498.001).
//
// The counters are per network namespace, not per listener: an increase is pinned on the
// listeners whose accept queue is full, and reported for the host when none is.
#include <fmt/format.h>

#include <map>

#include "agent/rules/detectors/detectors.h"

namespace portwatch::agent::rules {

namespace {

using collectors::Direction;
using collectors::Endpoint;
using collectors::Protocol;
using collectors::SocketState;

class SynFlood final : public Detector {
 public:
  explicit SynFlood(const DetectorsConfig& config)
      : Detector("syn_flood", config.syn_flood), threshold_(config.syn_recv_threshold) {}

  void Inspect(const DetectionInput& input, std::vector<Finding>& findings) override {
    const collectors::Snapshot& snapshot = input.snapshot;
    // 1. Half-open connections per local endpoint.
    std::map<std::pair<collectors::Address, uint16_t>, int, Less> half_open;
    for (const collectors::Socket& socket : snapshot.sockets) {
      if (socket.protocol == Protocol::kTcp &&
          (socket.state == SocketState::kSynRecv || socket.state == SocketState::kNewSynRecv)) {
        ++half_open[{socket.local.address, socket.local.port}];
      }
    }
    // 2. What the counters did since the last snapshot.
    uint64_t overflows = 0;
    uint64_t drops = 0;
    if (input.previous_host) {
      overflows = Increase(input.previous_host->listen_overflows, snapshot.host.listen_overflows);
      drops = Increase(input.previous_host->listen_drops, snapshot.host.listen_drops);
    }
    // 3. Each listener: many half-open connections, or a full accept queue while connections
    //    are being dropped.
    bool pinned = false;
    for (size_t i = 0; i < snapshot.sockets.size(); ++i) {
      const collectors::Socket& socket = snapshot.sockets[i];
      if (socket.protocol != Protocol::kTcp || socket.state != SocketState::kListen) continue;
      int waiting = 0;
      for (const auto& [endpoint, count] : half_open) {
        // A wildcard listener receives the SYNs for every local address.
        if (endpoint.second == socket.local.port &&
            (socket.exposure == collectors::Exposure::kAll ||
             endpoint.first == socket.local.address)) {
          waiting += count;
        }
      }
      // For a listener, rx_queue is the accept queue's length and tx_queue its limit.
      const bool full = socket.tx_queue > 0 && socket.rx_queue >= socket.tx_queue;
      if (waiting >= threshold_) {
        AboutSocket(snapshot, i,
                    fmt::format("{} half-open connections (SYN_RECV) wait on it (limit {}): a "
                                "SYN flood or clients it cannot keep up with",
                                waiting, threshold_),
                    findings);
      } else if (full && (overflows > 0 || drops > 0)) {
        pinned = true;
        AboutSocket(snapshot, i,
                    fmt::format("its accept queue is full ({} of {}) and the kernel dropped {} "
                                "connections in the last interval (ListenOverflows +{}, "
                                "ListenDrops +{})",
                                socket.rx_queue, socket.tx_queue, std::max(overflows, drops),
                                overflows, drops),
                    findings);
      }
    }
    if (!pinned && overflows > 0) {
      findings.push_back(
          Make(fmt::format("the kernel dropped connections on a full accept queue {} times in the "
                           "last interval (ListenOverflows)",
                           overflows),
               "host listen-overflows", SubjectKind::kHost));
    }
  }

 private:
  struct Less {
    bool operator()(const std::pair<collectors::Address, uint16_t>& a,
                    const std::pair<collectors::Address, uint16_t>& b) const {
      return std::tie(a.first.bytes, a.first.family, a.second) <
             std::tie(b.first.bytes, b.first.family, b.second);
    }
  };

  static uint64_t Increase(const std::optional<uint64_t>& before,
                           const std::optional<uint64_t>& after) {
    return before && after && *after > *before ? *after - *before : 0;
  }

  int threshold_;
};

}  // namespace

std::unique_ptr<Detector> MakeSynFlood(const DetectorsConfig& config) {
  return std::make_unique<SynFlood>(config);
}

}  // namespace portwatch::agent::rules
