#include "collectors/linux/sock_diag_parser.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/packet_diag.h>
#include <linux/sock_diag.h>
#include <sys/socket.h>

#include <cstring>

namespace portwatch::collectors::linux {

namespace {

DatagramStatus Malformed(std::string detail) {
  return {DatagramStatus::Kind::kMalformed, false, 0, std::move(detail)};
}

// The kernel sends errors as negative errno values; anything else is not a valid reply.
DatagramStatus KernelError(int code, bool interrupted) {
  if (code >= 0 || code < -4095) {
    return Malformed("netlink error code " + std::to_string(code) + " is not a negative errno");
  }
  return {DatagramStatus::Kind::kKernelError, interrupted, -code, {}};
}

Address AddressFromDiag(uint8_t family, const __be32 (&words)[4]) {
  if (family == AF_INET) return Address::V4(words[0]);
  uint8_t bytes[16];
  std::memcpy(bytes, words, sizeof(bytes));
  return Address::V6(bytes);
}

// Walks the attributes after a fixed header, calling visit(type, payload) for each. Returns false
// when an attribute's length runs past the message.
template <typename Visit>
bool ForEachAttribute(const nlmsghdr* header, size_t fixed_size, Visit visit) {
  const size_t payload_length = mnl_nlmsg_get_payload_len(header);
  if (payload_length < MNL_ALIGN(fixed_size)) return payload_length == fixed_size;
  const auto* begin = static_cast<const uint8_t*>(mnl_nlmsg_get_payload_offset(header, fixed_size));
  const auto* end = reinterpret_cast<const uint8_t*>(header) + header->nlmsg_len;
  while (begin < end) {
    if (static_cast<size_t>(end - begin) < sizeof(nlattr)) return false;
    nlattr attribute;
    std::memcpy(&attribute, begin, sizeof(attribute));
    if (attribute.nla_len < sizeof(nlattr) || attribute.nla_len > end - begin) return false;
    visit(static_cast<uint16_t>(attribute.nla_type & NLA_TYPE_MASK),
          std::span<const uint8_t>(begin + sizeof(nlattr), attribute.nla_len - sizeof(nlattr)));
    const size_t step = MNL_ALIGN(attribute.nla_len);
    if (step >= static_cast<size_t>(end - begin)) break;
    begin += step;
  }
  return true;
}

bool DecodeInet(const nlmsghdr* header, const DatagramContext& context, Socket& socket) {
  if (mnl_nlmsg_get_payload_len(header) < sizeof(inet_diag_msg)) return false;
  inet_diag_msg message;
  std::memcpy(&message, mnl_nlmsg_get_payload(header), sizeof(message));
  if (message.idiag_family != AF_INET && message.idiag_family != AF_INET6) return false;

  socket.protocol = context.protocol;
  socket.family = message.idiag_family == AF_INET ? Family::kIpv4 : Family::kIpv6;
  socket.state = message.idiag_state <= kMaxSocketState
                     ? static_cast<SocketState>(message.idiag_state)
                     : SocketState::kUnknown;
  socket.local = {AddressFromDiag(message.idiag_family, message.id.idiag_src),
                  ntohs(message.id.idiag_sport)};
  socket.remote = {AddressFromDiag(message.idiag_family, message.id.idiag_dst),
                   ntohs(message.id.idiag_dport)};
  socket.interface = message.id.idiag_if;
  socket.cookie = uint64_t{message.id.idiag_cookie[0]} | uint64_t{message.id.idiag_cookie[1]} << 32;
  socket.rx_queue = message.idiag_rqueue;
  socket.tx_queue = message.idiag_wqueue;
  socket.uid = message.idiag_uid;
  socket.inode = message.idiag_inode;
  socket.netns = context.netns;
  if (context.protocol == Protocol::kRaw) {
    // RAW_DIAG reports the socket's IP protocol where TCP and UDP have the local port.
    socket.protocol_number = socket.local.port;
    socket.local.port = socket.remote.port = 0;
  }

  return ForEachAttribute(header, sizeof(inet_diag_msg),
                          [&](uint16_t type, std::span<const uint8_t> payload) {
                            if (type == INET_DIAG_SKV6ONLY && payload.size() >= 1) {
                              socket.v6only = payload[0] != 0;
                            }
                          });
}

bool DecodePacket(const nlmsghdr* header, const DatagramContext& context, Socket& socket) {
  if (mnl_nlmsg_get_payload_len(header) < sizeof(packet_diag_msg)) return false;
  packet_diag_msg message;
  std::memcpy(&message, mnl_nlmsg_get_payload(header), sizeof(message));
  if (message.pdiag_family != AF_PACKET) return false;

  socket.protocol = Protocol::kPacket;
  socket.family = Family::kUnspec;
  socket.state = SocketState::kClose;
  socket.protocol_number = message.pdiag_num;  // the kernel already converted it
  socket.inode = message.pdiag_ino;
  socket.cookie = uint64_t{message.pdiag_cookie[0]} | uint64_t{message.pdiag_cookie[1]} << 32;
  socket.netns = context.netns;

  return ForEachAttribute(
      header, sizeof(packet_diag_msg), [&](uint16_t type, std::span<const uint8_t> payload) {
        if (type == PACKET_DIAG_UID && payload.size() >= sizeof(uint32_t)) {
          std::memcpy(&socket.uid, payload.data(), sizeof(uint32_t));
        } else if (type == PACKET_DIAG_INFO && payload.size() >= sizeof(packet_diag_info)) {
          packet_diag_info info;
          std::memcpy(&info, payload.data(), sizeof(info));
          socket.interface = info.pdi_index;
        }
      });
}

}  // namespace

DatagramStatus ParseDiagDatagram(std::span<const uint8_t> datagram, const DatagramContext& context,
                                 std::vector<Socket>& out) {
  // Netlink messages are 4-byte aligned within a datagram received into an aligned buffer; the
  // alignment is checked rather than assumed, since callers may hand in any byte span.
  bool interrupted = false;
  size_t offset = 0;
  while (offset < datagram.size()) {
    const size_t remaining = datagram.size() - offset;
    if (remaining < sizeof(nlmsghdr)) {
      return Malformed("truncated netlink header (" + std::to_string(remaining) + " bytes left)");
    }
    if (offset % alignof(nlmsghdr) != 0 ||
        reinterpret_cast<uintptr_t>(datagram.data()) % alignof(nlmsghdr) != 0) {
      return Malformed("misaligned netlink message");
    }
    const auto* header = reinterpret_cast<const nlmsghdr*>(datagram.data() + offset);
    if (header->nlmsg_len < sizeof(nlmsghdr) || header->nlmsg_len > remaining) {
      return Malformed("netlink message length " + std::to_string(header->nlmsg_len) +
                       " does not fit the " + std::to_string(remaining) + " bytes received");
    }
    if (header->nlmsg_seq != context.sequence) {
      return Malformed("reply to another request (sequence " + std::to_string(header->nlmsg_seq) +
                       ", expected " + std::to_string(context.sequence) + ")");
    }
    if (header->nlmsg_flags & NLM_F_DUMP_INTR) interrupted = true;

    switch (header->nlmsg_type) {
      case NLMSG_DONE: {
        // The kernel may put an error code in NLMSG_DONE when the dump failed part-way.
        int code = 0;
        if (mnl_nlmsg_get_payload_len(header) >= sizeof(int)) {
          std::memcpy(&code, mnl_nlmsg_get_payload(header), sizeof(int));
        }
        if (code < 0) return KernelError(code, interrupted);
        return {DatagramStatus::Kind::kDone, interrupted, 0, {}};
      }
      case NLMSG_ERROR: {
        if (mnl_nlmsg_get_payload_len(header) < sizeof(nlmsgerr)) {
          return Malformed("truncated netlink error message");
        }
        nlmsgerr error;
        std::memcpy(&error, mnl_nlmsg_get_payload(header), sizeof(error));
        if (error.error == 0) break;  // an acknowledgement
        return KernelError(error.error, interrupted);
      }
      case NLMSG_NOOP:
        break;
      case SOCK_DIAG_BY_FAMILY: {
        Socket socket;
        const bool decoded = context.record_kind == DiagRecordKind::kInet
                                 ? DecodeInet(header, context, socket)
                                 : DecodePacket(header, context, socket);
        if (!decoded) {
          return Malformed("malformed sock_diag record at offset " + std::to_string(offset));
        }
        out.push_back(socket);
        break;
      }
      default:
        return Malformed("unexpected netlink message type " + std::to_string(header->nlmsg_type));
    }
    offset += NLMSG_ALIGN(header->nlmsg_len);
  }
  return {DatagramStatus::Kind::kMore, interrupted, 0, {}};
}

}  // namespace portwatch::collectors::linux
