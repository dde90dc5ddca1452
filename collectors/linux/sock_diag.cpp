#include "collectors/linux/sock_diag.h"

#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/packet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "collectors/linux/sock_diag_parser.h"

namespace portwatch::collectors::linux {

namespace {

// The kernel fills dump datagrams up to what the reader's buffer allows (capped near 32 KiB), so
// a larger buffer means fewer system calls per dump.
constexpr size_t kReceiveBufferBytes = 64 * 1024;
// The kernel-side queue: large enough that a dump of 100k sockets never overruns it.
constexpr int kSocketBufferBytes = 4 * 1024 * 1024;
constexpr int kMaxDumpAttempts = 5;

std::string ErrnoText(int code) { return std::strerror(code); }

bool MeansUnsupported(int code) {
  // ENOENT: no handler for the family/protocol (module absent); EOPNOTSUPP/EINVAL: old kernels.
  return code == ENOENT || code == EOPNOTSUPP || code == EINVAL || code == EPROTONOSUPPORT;
}

}  // namespace

void SockDiag::MnlSocketCloser::operator()(mnl_socket* socket) const { mnl_socket_close(socket); }

SockDiag::SockDiag(std::unique_ptr<mnl_socket, MnlSocketCloser> socket, uint64_t netns)
    : socket_(std::move(socket)),
      port_id_(mnl_socket_get_portid(socket_.get())),
      netns_(netns),
      buffer_(kReceiveBufferBytes) {}

SockDiag::~SockDiag() = default;

Result<std::unique_ptr<SockDiag>> SockDiag::Open(uint64_t netns) {
  std::unique_ptr<mnl_socket, MnlSocketCloser> socket(
      mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC));
  if (!socket) {
    return Error{"cannot open a NETLINK_SOCK_DIAG socket: " + ErrnoText(errno) +
                 " (is the sock_diag module available?)"};
  }
  if (mnl_socket_bind(socket.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    return Error{"cannot bind the sock_diag netlink socket: " + ErrnoText(errno)};
  }
  int size = kSocketBufferBytes;
  // SO_RCVBUFFORCE lifts the rmem_max cap when we have CAP_NET_ADMIN; otherwise take what we get.
  if (setsockopt(mnl_socket_get_fd(socket.get()), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) <
      0) {
    setsockopt(mnl_socket_get_fd(socket.get()), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  }
  int strict = 1;  // ask the kernel to reject requests it does not understand instead of guessing
  setsockopt(mnl_socket_get_fd(socket.get()), SOL_NETLINK, NETLINK_GET_STRICT_CHK, &strict,
             sizeof(strict));
  return std::unique_ptr<SockDiag>(new SockDiag(std::move(socket), netns));
}

Result<DumpOutcome> SockDiag::DumpInet(Protocol protocol, uint8_t family,
                                       std::vector<Socket>& out) {
  inet_diag_req_v2 request{};
  request.sdiag_family = family;
  request.idiag_states = ~0u;  // every state
  switch (protocol) {
    case Protocol::kTcp:
      request.sdiag_protocol = IPPROTO_TCP;
      break;
    case Protocol::kUdp:
      request.sdiag_protocol = IPPROTO_UDP;
      break;
    case Protocol::kRaw:
      // RAW_DIAG reads the raw protocol from the pad byte; IPPROTO_RAW there matches them all.
      request.sdiag_protocol = IPPROTO_RAW;
      request.pad = IPPROTO_RAW;
      break;
    case Protocol::kPacket:
      return Error{"DumpInet cannot dump packet sockets; use DumpPacket"};
  }
  // Extensions: the kernel always sends INET_DIAG_SKV6ONLY for IPv6 listeners; the TOS/TCLASS
  // bits are cheap and keep the request explicit about the attributes the parser understands.
  request.idiag_ext = (1 << (INET_DIAG_TOS - 1)) | (1 << (INET_DIAG_TCLASS - 1));
  const std::string what =
      std::string(ProtocolName(protocol)) + (family == AF_INET ? " IPv4" : " IPv6") + " sockets";
  return Dump(request, false, protocol, what.c_str(), out);
}

Result<DumpOutcome> SockDiag::DumpPacket(std::vector<Socket>& out) {
  packet_diag_req request{};
  request.sdiag_family = AF_PACKET;
  request.pdiag_show = PACKET_SHOW_INFO;
  return Dump(request, true, Protocol::kPacket, "packet sockets", out);
}

template <typename Request>
Result<DumpOutcome> SockDiag::Dump(Request& request, bool packet, Protocol protocol,
                                   const char* what, std::vector<Socket>& out) {
  const size_t first_socket = out.size();
  std::string last_problem;
  for (int attempt = 1; attempt <= kMaxDumpAttempts; ++attempt) {
    out.resize(first_socket);  // a retried dump starts from scratch
    alignas(nlmsghdr) uint8_t request_buffer[MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(Request))];
    nlmsghdr* header = mnl_nlmsg_put_header(request_buffer);
    header->nlmsg_type = SOCK_DIAG_BY_FAMILY;
    header->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    header->nlmsg_seq = ++sequence_;
    void* payload = mnl_nlmsg_put_extra_header(header, sizeof(Request));
    std::memcpy(payload, &request, sizeof(Request));

    if (mnl_socket_sendto(socket_.get(), header, header->nlmsg_len) < 0) {
      return Error{std::string("cannot request ") + what + " from sock_diag: " + ErrnoText(errno)};
    }

    DatagramContext context;
    context.record_kind = packet ? DiagRecordKind::kPacket : DiagRecordKind::kInet;
    context.protocol = protocol;
    context.sequence = header->nlmsg_seq;
    context.netns = netns_;

    // Reads until NLMSG_DONE. After NLM_F_DUMP_INTR the rest of the dump is still read (and
    // discarded) so that none of it is left queued to be mistaken for the next dump's replies.
    bool interrupted = false;
    std::vector<Socket> discarded;
    for (;;) {
      const ssize_t received = mnl_socket_recvfrom(socket_.get(), buffer_.data(), buffer_.size());
      if (received < 0) {
        if (errno == EINTR) continue;  // a signal, not a problem with the dump
        if (errno == ENOBUFS) {
          // The kernel dropped part of the dump. A fresh socket is the only clean state to
          // restart from.
          last_problem = "netlink receive buffer overrun (ENOBUFS)";
          spdlog::warn("sock_diag dump of {} lost messages (ENOBUFS), retrying ({}/{})", what,
                       attempt, kMaxDumpAttempts);
          if (Result<void> reopened = Reopen(); !reopened) return reopened.error();
          break;
        }
        return Error{std::string("cannot read ") + what + " from sock_diag: " + ErrnoText(errno)};
      }
      const auto datagram = std::span<const uint8_t>(buffer_.data(), static_cast<size_t>(received));
      if (tap_) tap_(datagram);
      discarded.clear();
      DatagramStatus status = ParseDiagDatagram(datagram, context, interrupted ? discarded : out);
      if (status.interrupted && !interrupted) {
        interrupted = true;
        last_problem = "the kernel's socket table kept changing during the dump (NLM_F_DUMP_INTR)";
        spdlog::debug("sock_diag dump of {} interrupted, retrying ({}/{})", what, attempt,
                      kMaxDumpAttempts);
      }
      if (status.kind == DatagramStatus::Kind::kMore) continue;
      if (status.kind == DatagramStatus::Kind::kDone) {
        if (!interrupted) return DumpOutcome::kComplete;
        break;
      }
      if (status.kind == DatagramStatus::Kind::kKernelError) {
        if (MeansUnsupported(status.kernel_errno)) return DumpOutcome::kUnsupported;
        return Error{std::string("the kernel refused the dump of ") + what + ": " +
                     ErrnoText(status.kernel_errno)};
      }
      return Error{std::string("malformed sock_diag reply while dumping ") + what + ": " +
                   status.detail};
    }
  }
  out.resize(first_socket);
  return Error{std::string("giving up on the dump of ") + what + " after " +
               std::to_string(kMaxDumpAttempts) + " attempts: " + last_problem};
}

Result<void> SockDiag::Reopen() {
  Result<std::unique_ptr<SockDiag>> fresh = Open(netns_);
  if (!fresh) return fresh.error();
  socket_ = std::move((*fresh)->socket_);
  port_id_ = mnl_socket_get_portid(socket_.get());
  return Ok();
}

}  // namespace portwatch::collectors::linux
