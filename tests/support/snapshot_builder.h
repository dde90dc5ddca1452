// Hand-built sockets, processes and snapshots, for tests of code that consumes snapshots.
//
// Every socket is in the host's network namespace (kHostNetns). A socket's inode follows from its
// cookie (cookie + 100000, or 0 for a cookie-less socket, as the kernel's TIME_WAIT sockets have)
// unless the test gives one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "collectors/snapshot.h"

namespace portwatch::testing {

inline constexpr uint64_t kHostNetns = 4026531840;

// A TCP socket of uid 1000 between two address literals.
collectors::Socket Tcp(uint64_t cookie, const char* local, uint16_t local_port, const char* remote,
                       uint16_t remote_port, collectors::SocketState state,
                       std::optional<uint64_t> inode = std::nullopt);

// A TCP listener on local:port.
collectors::Socket Listener(uint64_t cookie, const char* local, uint16_t port);

// An unconnected UDP socket bound to local:port.
collectors::Socket Udp(uint64_t cookie, const char* local, uint16_t port);

// A packet socket (ETH_P_ALL on interface 2) and a raw ICMP socket.
collectors::Socket Packet(uint64_t cookie);
collectors::Socket Raw(uint64_t cookie);

// A process of user alice (uid 1000), child of init, running /usr/bin/<name> --flag.
collectors::Process Proc(int32_t pid, uint64_t start_time, const std::string& name);

// Builds a snapshot taken at a chosen moment; Build() applies DeriveFields as a collector would.
class SnapshotBuilder {
 public:
  explicit SnapshotBuilder(int64_t at_ms);

  // Adds a socket with one owner, or none (a kernel-owned socket). An owner already added (same
  // pid and start time) is shared, not listed twice.
  SnapshotBuilder& Add(collectors::Socket socket,
                       const std::optional<collectors::Process>& owner = std::nullopt);

  collectors::Snapshot Build() const;

 private:
  collectors::Snapshot snapshot_;
};

}  // namespace portwatch::testing
