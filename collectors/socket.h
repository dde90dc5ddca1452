// The socket and process model every part of portwatch speaks.
//
// Plain values with no owning pointers: a Socket names its owners by index into its Snapshot's
// process table (see snapshot.h), so a snapshot of 100k sockets is a few flat vectors.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "collectors/endpoint.h"
#include "collectors/ports.h"

namespace portwatch::collectors {

// The numeric values of Protocol, Family (endpoint.h) and OwnerStatus are stored in history
// databases: append, never renumber.
enum class Protocol : uint8_t {
  kTcp = 0,
  kUdp = 1,
  kRaw = 2,
  kPacket = 3,
};
std::string_view ProtocolName(Protocol protocol);  // "tcp", "udp", "raw", "packet"

// Kernel socket states (include/net/tcp_states.h); the numeric values are the kernel's.
// UDP, raw and packet sockets are kClose when unconnected, kEstablished when connected.
enum class SocketState : uint8_t {
  kUnknown = 0,
  kEstablished = 1,
  kSynSent = 2,
  kSynRecv = 3,
  kFinWait1 = 4,
  kFinWait2 = 5,
  kTimeWait = 6,
  kClose = 7,
  kCloseWait = 8,
  kLastAck = 9,
  kListen = 10,
  kClosing = 11,
  kNewSynRecv = 12,
};
constexpr int kMaxSocketState = 12;
// "LISTEN", "ESTABLISHED", "TIME_WAIT", ...; "UNCONN" for a closed non-TCP socket.
std::string_view StateName(Protocol protocol, SocketState state);
// Parses a state name as users type it: case-insensitive, '-' or '_', and ss's short forms
// ("estab", "unconn", "time-wait"). Returns kUnknown for anything else.
SocketState ParseStateName(std::string_view text);

// Why a socket has no owning process.
enum class OwnerStatus : uint8_t {
  kKnown,         // at least one process holds it
  kKernel,        // no inode: TIME_WAIT, orphaned, or held by the kernel itself
  kNoPermission,  // some processes' fd tables could not be read (run as root or with
                  // CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE)
  kProcessGone,   // no readable process holds it: it exited between the two reads
  kNotCollected,  // owners were not asked for
};
std::string_view OwnerStatusName(OwnerStatus status);

// A process that owns at least one socket. Pid plus start time identifies it; a pid alone is
// reused.
struct Process {
  int32_t pid = 0;
  int32_t ppid = 0;
  uint64_t start_time = 0;   // clock ticks after boot (/proc/PID/stat field 22)
  uint32_t uid = 0;          // effective uid
  std::string name;          // comm, at most 15 characters
  std::string exe;           // empty when it could not be read
  bool exe_deleted = false;  // the binary was deleted or replaced after start
  std::string cmdline;       // arguments joined by spaces, truncated to a few KiB
  std::string user;          // user name, or the uid as text when it has no name
  // What the executable is, not what it is called: the file /proc/PID/exe resolves to (device,
  // inode and modification time, from stat(2) through the link, so a deleted or replaced binary
  // is still the file the process runs). All zero when it could not be read. An execve changes
  // them under the same pid and start time; (device, inode, mtime) keys the executable's hash.
  uint64_t exe_device = 0;
  uint64_t exe_inode = 0;
  int64_t exe_mtime_ns = 0;
};

struct Socket {
  // Field order keeps the struct at 104 bytes: a snapshot holds one per socket on the host.
  Protocol protocol = Protocol::kTcp;
  Family family = Family::kUnspec;
  SocketState state = SocketState::kUnknown;
  bool v6only = false;  // an IPv6 listener that does not accept IPv4 (IPV6_V6ONLY)
  uint32_t uid = 0;
  Endpoint local;
  Endpoint remote;
  uint64_t inode = 0;
  uint64_t cookie = 0;  // the kernel's socket cookie; 0 when the source has none (/proc fallback)
  uint64_t netns = 0;   // inode of the network namespace
  uint32_t rx_queue = 0;
  uint32_t tx_queue = 0;
  uint32_t interface = 0;  // bound interface index (packet sockets, SO_BINDTODEVICE), 0 if none

  // Owners: indices into Snapshot::owner_indices, [owners_begin, owners_begin + owner_count).
  // The first is the primary owner.
  uint32_t owners_begin = 0;
  uint32_t owner_count = 0;

  // Raw sockets: the IP protocol they receive (1 = ICMP). Packet sockets: the ethertype they
  // capture (3 = every frame). Zero for TCP and UDP.
  uint16_t protocol_number = 0;

  // Derived once by DeriveFields (derive.h).
  // The port that names the service this socket is about: the local port of a listener or an
  // inbound connection, the remote port of an outbound one.
  uint16_t service_port = 0;
  OwnerStatus owner_status = OwnerStatus::kNotCollected;
  PortCategory port_category = PortCategory::kWellKnown;  // of the local port
  Exposure exposure = Exposure::kNone;
  Direction direction = Direction::kNone;
  AddressClass remote_class = AddressClass::kNone;

  // TCP and UDP sockets have ports; raw and packet sockets do not.
  bool HasPorts() const { return protocol == Protocol::kTcp || protocol == Protocol::kUdp; }
};
static_assert(sizeof(Socket) <= 104, "keep Socket small: one per socket on the host");

}  // namespace portwatch::collectors
