// Snapshot: every socket on the host at one moment, and the processes that own them.
//
// A plain value: built by one collector pass, then read. Not synchronised; hand it between threads
// by moving it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "collectors/socket.h"

namespace portwatch::collectors {

// Facts about the host's network stack the rules need, read with each snapshot.
struct HostNetwork {
  // net.ipv4.ip_local_port_range: where the kernel picks ephemeral ports.
  uint16_t ephemeral_first = 32768;
  uint16_t ephemeral_last = 60999;
  // net.ipv4.ip_unprivileged_port_start: ports below need CAP_NET_BIND_SERVICE.
  uint16_t unprivileged_port_start = 1024;
  // TcpExt counters since the namespace was created; nullopt where they cannot be read.
  std::optional<uint64_t> listen_overflows;  // accept queue full
  std::optional<uint64_t> listen_drops;      // SYNs dropped on a listener for any reason
  // What moves in a SYN flood with syncookies on, where the accept queue never fills:
  std::optional<uint64_t> syncookies_sent;         // SYN-ACKs answered with a cookie
  std::optional<uint64_t> req_queue_full_cookies;  // TCPReqQFullDoCookies: SYN queue full, cookie
  std::optional<uint64_t> req_queue_full_drops;    // TCPReqQFullDrop: SYN queue full, no cookie
};

struct Snapshot {
  std::chrono::system_clock::time_point taken_at;
  std::chrono::nanoseconds duration{0};  // how long the collection took
  uint64_t netns = 0;                    // network namespace the sockets were read from
  HostNetwork host;
  // The owners come from the collector's previous /proc scan: no process started or exited and
  // no socket appeared since (see the Linux collector).
  bool owners_reused = false;

  std::vector<Socket> sockets;
  std::vector<Process> processes;
  // Process indices of each socket's owners; a Socket holds a range into this.
  std::vector<uint32_t> owner_indices;

  // Partial failures worth telling the user about ("raw sockets read from /proc/net/raw: ...").
  std::vector<std::string> warnings;

  std::span<const uint32_t> Owners(const Socket& socket) const {
    return std::span<const uint32_t>(owner_indices)
        .subspan(socket.owners_begin, socket.owner_count);
  }
  // The primary owner, or nullptr when the socket has none.
  const Process* PrimaryOwner(const Socket& socket) const {
    return socket.owner_count == 0 ? nullptr : &processes[owner_indices[socket.owners_begin]];
  }
};

}  // namespace portwatch::collectors
