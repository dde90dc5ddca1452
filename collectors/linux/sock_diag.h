// SockDiag: dumps the kernel's socket tables over NETLINK_SOCK_DIAG through libmnl.
//
// Owns one netlink socket (RAII, not copyable). Not thread-safe: one dump at a time per object;
// use one object per thread. Each dump either returns every socket of the table or an error; an
// interrupted dump (NLM_F_DUMP_INTR) or a receive-buffer overrun (ENOBUFS) is retried from the
// start a few times, and a partial table is never returned as if it were complete.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "collectors/result.h"
#include "collectors/socket.h"

struct mnl_socket;

namespace portwatch::collectors::linux {

enum class DumpOutcome : uint8_t {
  kComplete,     // every socket of the table was appended
  kUnsupported,  // the kernel has no diag module for this table (e.g. no RAW_DIAG): fall back
};

class SockDiag {
 public:
  // Opens and binds the netlink socket; fails with a message a user can act on.
  static Result<std::unique_ptr<SockDiag>> Open(uint64_t netns);
  ~SockDiag();
  SockDiag(const SockDiag&) = delete;
  SockDiag& operator=(const SockDiag&) = delete;

  // TCP, UDP or raw sockets of one address family (AF_INET or AF_INET6), every state.
  Result<DumpOutcome> DumpInet(Protocol protocol, uint8_t family, std::vector<Socket>& out);
  // Packet (AF_PACKET) sockets.
  Result<DumpOutcome> DumpPacket(std::vector<Socket>& out);

  // Sees every datagram received, before it is decoded (to record test fixtures).
  void SetTap(std::function<void(std::span<const uint8_t>)> tap) { tap_ = std::move(tap); }

 private:
  struct MnlSocketCloser {
    void operator()(mnl_socket* socket) const;
  };
  SockDiag(std::unique_ptr<mnl_socket, MnlSocketCloser> socket, uint64_t netns);

  template <typename Request>
  Result<DumpOutcome> Dump(Request& request, bool packet, Protocol protocol, const char* what,
                           std::vector<Socket>& out);
  // Replaces the netlink socket with a fresh one (after ENOBUFS left the old one's stream
  // unusable).
  Result<void> Reopen();

  std::unique_ptr<mnl_socket, MnlSocketCloser> socket_;
  uint32_t port_id_ = 0;
  uint32_t sequence_ = 0;
  uint64_t netns_ = 0;
  std::vector<uint8_t> buffer_;
  std::function<void(std::span<const uint8_t>)> tap_;
};

}  // namespace portwatch::collectors::linux
