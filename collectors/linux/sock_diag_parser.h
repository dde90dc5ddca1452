// Decoding of sock_diag dump replies (inet_diag for TCP/UDP/raw, packet_diag for packet sockets).
//
// Pure functions over received bytes: no sockets, no allocation beyond appending to `out`. Every
// length is checked before it is read, so truncated or malformed input yields kMalformed, never an
// out-of-bounds read. Thread-compatible (no shared state).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "collectors/socket.h"

namespace portwatch::collectors::linux {

// What a dump's message stream says about the decoded records.
enum class DiagRecordKind : uint8_t {
  kInet,    // struct inet_diag_msg + INET_DIAG_* attributes
  kPacket,  // struct packet_diag_msg + PACKET_DIAG_* attributes
};

struct DatagramStatus {
  enum class Kind : uint8_t {
    kMore,         // all records decoded; the dump continues in the next datagram
    kDone,         // NLMSG_DONE reached: the dump is complete
    kKernelError,  // NLMSG_ERROR (or an error code in NLMSG_DONE): see kernel_errno
    kMalformed,    // bytes that are not a valid reply: see detail
  };
  Kind kind = Kind::kMore;
  // NLM_F_DUMP_INTR was set: the kernel's tables changed mid-dump, so the dump as a whole is
  // inconsistent. Read it to its end, then restart it.
  bool interrupted = false;
  int kernel_errno = 0;
  std::string detail;
};

struct DatagramContext {
  DiagRecordKind record_kind = DiagRecordKind::kInet;
  Protocol protocol = Protocol::kTcp;  // for kInet: the protocol that was asked for
  uint32_t sequence = 0;               // replies with another sequence number are rejected
  uint64_t netns = 0;                  // stamped on every decoded socket
};

// Decodes one received datagram of a dump, appending each socket to `out`.
DatagramStatus ParseDiagDatagram(std::span<const uint8_t> datagram, const DatagramContext& context,
                                 std::vector<Socket>& out);

}  // namespace portwatch::collectors::linux
