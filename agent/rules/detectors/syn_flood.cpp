// 9. A listener drowning (ATT&CK T1498.001), on the signals that move in a real flood:
//    - its SYN queue full: as many half-open connections (SYN_RECV) wait on it as its backlog
//      (tx_queue, for a listener), or more than syn_recv however large the backlog. A spoofed
//      flood fills it at once and keeps it full, syncookies or not;
//    - the kernel answering SYNs with cookies or dropping them on a full SYN queue (TcpExt
//      SyncookiesSent, TCPReqQFullDoCookies, TCPReqQFullDrop rising): with syncookies on (the
//      default), the accept queue and ListenOverflows never move in a spoofed flood, since
//      nobody completes the handshake;
//    - its accept queue full while ListenOverflows / ListenDrops climb: clients that do complete
//      the handshake faster than it accepts.
//
// The counters are per network namespace, not per listener: an increase is pinned on the
// listeners whose queue is full, and reported for the host when none is. To pass, a flood must
// stay below the backlog of half-open connections on every listener and make the kernel send no
// cookie, which is to say it is no flood.
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
    uint64_t cookies = 0;
    uint64_t full_cookies = 0;
    uint64_t full_drops = 0;
    if (input.previous_host) {
      const collectors::HostNetwork& before = *input.previous_host;
      const collectors::HostNetwork& now = snapshot.host;
      overflows = Increase(before.listen_overflows, now.listen_overflows);
      drops = Increase(before.listen_drops, now.listen_drops);
      cookies = Increase(before.syncookies_sent, now.syncookies_sent);
      full_cookies = Increase(before.req_queue_full_cookies, now.req_queue_full_cookies);
      full_drops = Increase(before.req_queue_full_drops, now.req_queue_full_drops);
    }
    const bool syn_queue_counters = cookies > 0 || full_cookies > 0 || full_drops > 0;
    const std::string counters =
        syn_queue_counters
            ? fmt::format(
                  "; in the last interval the kernel sent {} syncookies "
                  "(SyncookiesSent +{}, TCPReqQFullDoCookies +{}) and dropped {} SYNs "
                  "on a full SYN queue (TCPReqQFullDrop)",
                  std::max(cookies, full_cookies), cookies, full_cookies, full_drops)
            : std::string();
    // 3. Each listener: many half-open connections, or a full accept queue while connections
    //    are being dropped.
    bool pinned = false;      // the accept-queue counters, on a listener
    bool syn_pinned = false;  // the SYN-queue counters, on a listener
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
      // The kernel's SYN queue of a listener holds up to its backlog.
      const bool syn_queue_full =
          socket.tx_queue > 0 && static_cast<uint64_t>(waiting) >= socket.tx_queue;
      if (full && (overflows > 0 || drops > 0)) {
        pinned = true;
        AboutSocket(snapshot, i,
                    fmt::format("its accept queue is full ({} of {}) and the kernel dropped {} "
                                "connections in the last interval (ListenOverflows +{}, "
                                "ListenDrops +{})",
                                socket.rx_queue, socket.tx_queue, std::max(overflows, drops),
                                overflows, drops),
                    findings);
      } else if (syn_queue_full || waiting >= threshold_) {
        syn_pinned = true;
        AboutSocket(snapshot, i,
                    fmt::format("{} half-open connections (SYN_RECV) wait on it ({}){}: a SYN "
                                "flood or clients it cannot keep up with",
                                waiting,
                                syn_queue_full ? fmt::format("its SYN queue is full: backlog {}",
                                                             socket.tx_queue)
                                               : fmt::format("limit {}", threshold_),
                                counters),
                    findings);
      }
    }
    if (!syn_pinned && syn_queue_counters) {
      findings.push_back(
          Make(fmt::format("the kernel's SYN queue overflowed{} (no listener's queue is full now)",
                           counters),
               "host syn-queue", SubjectKind::kHost));
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
