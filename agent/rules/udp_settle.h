// UdpSettle: tells a UDP service from a client's transient socket.
//
// A bound, unconnected UDP socket is a listener: anyone may send to it. Clients make such
// sockets too, in the ephemeral range (a resolver such as unbound sends each query from a fresh
// unconnected socket on a random port, and closes it when the answer comes), and the kernel
// shows nothing that tells bind(0.0.0.0:40000) from a port it picked itself. What does tell them
// apart is time: a query's socket lives for one round trip (a few seconds at most, the
// resolver's timeout), a service's for as long as it serves. So an unconnected UDP socket inside
// the ephemeral range counts as a listener once it has been open for `settle`; outside the
// range, and for TCP, at once. A connected UDP socket (a glibc resolver's, a QUIC client's) has a
// peer and is never a listener. An attacker's UDP listener passes only by living less than
// `settle` (and then it can receive nothing for long) or by connecting to one peer (and then it
// hears that peer only).
//
// Keeps when each such socket was first seen, pruned each interval. Not thread-safe: each
// detector owns one.
#pragma once

#include <chrono>
#include <cstdint>
#include <unordered_map>

#include "collectors/snapshot.h"

namespace portwatch::agent::rules {

// Whether `socket` is an unconnected UDP socket in the host's ephemeral port range: maybe a
// client's.
bool MaybeTransientUdp(const collectors::Socket& socket, const collectors::HostNetwork& host);

class UdpSettle {
 public:
  explicit UdpSettle(std::chrono::milliseconds settle) : settle_(settle.count()) {}

  // Notes the snapshot's sockets that may be transient, and forgets those gone. Once per
  // interval, before Settled.
  void Update(const collectors::Snapshot& snapshot, int64_t now_ms);

  // Whether `socket`, a listener of the last snapshot given to Update, counts as one now: it is
  // not possibly transient, or it has been open for `settle`.
  bool Settled(const collectors::Socket& socket, const collectors::HostNetwork& host) const;

 private:
  int64_t settle_;
  int64_t now_ms_ = 0;
  uint64_t generation_ = 0;
  struct Seen {
    int64_t first_ms;
    uint64_t generation;
  };
  std::unordered_map<uint64_t, Seen> seen_;  // socket identity -> when first seen
};

}  // namespace portwatch::agent::rules
