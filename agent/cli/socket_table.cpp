#include "agent/cli/socket_table.h"

#include <fmt/format.h>
#include <net/if.h>

#include <algorithm>
#include <unordered_map>

#include "collectors/untrusted_text.h"

namespace portwatch::agent {

using namespace collectors;

namespace {

constexpr size_t kFlushBytes = 256 * 1024;

void AppendEndpoint(std::string& out, const Endpoint& endpoint, bool any_port_is_star) {
  char text[Address::kMaxText];
  const size_t length = endpoint.address.Format(text);
  if (endpoint.address.family == Family::kIpv6) {
    out += '[';
    out.append(text, length);
    out += ']';
  } else {
    out.append(text, length);
  }
  out += ':';
  if (any_port_is_star && endpoint.port == 0) {
    out += '*';
  } else {
    fmt::format_to(std::back_inserter(out), "{}", endpoint.port);
  }
}

bool HasPeer(const Socket& socket) {
  return socket.remote.port != 0 || !socket.remote.address.IsUnspecified();
}

std::string_view IpProtocolName(uint16_t number) {
  switch (number) {
    case 1:
      return "icmp";
    case 2:
      return "igmp";
    case 6:
      return "tcp";
    case 17:
      return "udp";
    case 58:
      return "ipv6-icmp";
    case 255:
      return "raw";
    default:
      return {};
  }
}

std::string InterfaceName(uint32_t index) {
  if (index == 0) return "*";
  char name[IF_NAMESIZE];
  if (if_indextoname(index, name) != nullptr) return name;
  return "if" + std::to_string(index);
}

}  // namespace

std::string FormatLocal(const Socket& socket) {
  if (socket.protocol == Protocol::kPacket) {
    return fmt::format("{}:0x{:04x}", InterfaceName(socket.interface), socket.protocol_number);
  }
  std::string text;
  if (socket.protocol == Protocol::kRaw) {
    // ss style: the address and the IP protocol the raw socket receives ("0.0.0.0:icmp").
    char address[Address::kMaxText];
    const size_t length = socket.local.address.Format(address);
    const std::string_view name = IpProtocolName(socket.protocol_number);
    text = socket.family == Family::kIpv6 ? fmt::format("[{}]", std::string_view(address, length))
                                          : std::string(address, length);
    text += ':';
    text += name.empty() ? std::to_string(socket.protocol_number) : std::string(name);
    return text;
  }
  AppendEndpoint(text, socket.local, false);
  return text;
}

std::string FormatPeer(const Socket& socket) {
  if (socket.protocol == Protocol::kPacket || !HasPeer(socket)) return "*:*";
  std::string text;
  AppendEndpoint(text, socket.remote, true);
  return text;
}

std::string OwnerLabel(const Snapshot& snapshot, const Socket& socket) {
  const Process* owner = snapshot.PrimaryOwner(socket);
  if (owner == nullptr) {
    switch (socket.owner_status) {
      case OwnerStatus::kKernel:
        return "(kernel)";
      case OwnerStatus::kNoPermission:
        return "(no permission)";
      case OwnerStatus::kProcessGone:
        return "(gone)";
      default:
        return "-";
    }
  }
  std::string name = EscapeUntrusted(owner->name);
  if (socket.owner_count > 1) return fmt::format("{} +{}", name, socket.owner_count - 1);
  return name;
}

bool WriteSocketTable(std::FILE* out, const Snapshot& snapshot, const std::vector<uint32_t>& rows,
                      const LeadColumns& lead) {
  // 1. Column widths from the data, so addresses line up without a fixed worst-case width. The
  //    addresses are formatted again in step 2 rather than kept: at 100k sockets, keeping them
  //    would cost more memory than the snapshot itself.
  size_t local_width = 5;
  size_t peer_width = 4;
  for (uint32_t row : rows) {
    const Socket& socket = snapshot.sockets[row];
    local_width = std::max(local_width, FormatLocal(socket).size());
    peer_width = std::max(peer_width, FormatPeer(socket).size());
  }

  // 2. Rows, flushed in large chunks.
  std::string buffer;
  buffer.reserve(kFlushBytes + 1024);
  constexpr std::string_view kRow =
      "{:<6} {:<12} {:<{}} {:<{}} {:>7} {:<16} {:<10} {:<14} {:<10} {}\n";
  buffer += lead.header;
  fmt::format_to(std::back_inserter(buffer), kRow, "PROTO", "STATE", "LOCAL", local_width, "PEER",
                 peer_width, "PID", "PROCESS", "USER", "SERVICE", "CATEGORY", "EXPOSURE");
  for (uint32_t row : rows) {
    const Socket& socket = snapshot.sockets[row];
    const Process* owner = snapshot.PrimaryOwner(socket);
    const std::string_view service = ServiceName(socket.service_port, socket.protocol);
    if (lead.cell) buffer += lead.cell(row);
    fmt::format_to(std::back_inserter(buffer), kRow, ProtocolName(socket.protocol),
                   StateName(socket.protocol, socket.state), FormatLocal(socket), local_width,
                   FormatPeer(socket), peer_width,
                   owner ? std::to_string(owner->pid) : std::string("-"),
                   OwnerLabel(snapshot, socket), owner ? EscapeUntrusted(owner->user) : "-",
                   service.empty() ? "-" : service,
                   socket.HasPorts() ? PortCategoryName(socket.port_category) : "-",
                   ExposureName(socket.exposure));
    if (buffer.size() >= kFlushBytes) {
      if (std::fwrite(buffer.data(), 1, buffer.size(), out) != buffer.size()) return false;
      buffer.clear();
    }
  }
  if (std::fwrite(buffer.data(), 1, buffer.size(), out) != buffer.size()) return false;
  return std::fflush(out) == 0;
}

}  // namespace portwatch::agent
