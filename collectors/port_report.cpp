#include "collectors/port_report.h"

#include <fmt/format.h>

namespace portwatch::collectors {

namespace {

std::string_view ExposurePhrase(Exposure exposure) {
  switch (exposure) {
    case Exposure::kAll:
      return "all interfaces";
    case Exposure::kAddress:
      return "one address";
    case Exposure::kLoopback:
      return "loopback only";
    case Exposure::kNone:
      break;
  }
  return "no address";
}

// "0.0.0.0:22 (tcp, all interfaces)", "[::]:22 (tcp, all interfaces, IPv4 and IPv6)".
std::string ListenerDescription(const Socket& socket) {
  char address[Address::kMaxText];
  const std::string_view text(address, socket.local.address.Format(address));
  const bool v6 = socket.family == Family::kIpv6;
  std::string_view dual_stack;
  if (v6 && socket.local.address.IsUnspecified()) {
    dual_stack = socket.v6only ? ", IPv6 only" : ", IPv4 and IPv6";
  }
  return fmt::format("{}{}{}:{} ({}, {}{})", v6 ? "[" : "", text, v6 ? "]" : "", socket.local.port,
                     ProtocolName(socket.protocol), ExposurePhrase(socket.exposure), dual_stack);
}

}  // namespace

PortReport ReportPort(const Snapshot& snapshot, uint16_t port, std::optional<Protocol> protocol) {
  PortReport report;
  report.port = port;
  report.protocol = protocol;
  std::map<uint64_t, size_t> holder_index;  // process index (or status code) -> holders slot
  const auto slot_for = [&](uint64_t key) -> PortHolder& {
    auto [it, added] = holder_index.emplace(key, report.holders.size());
    if (added) report.holders.emplace_back();
    return report.holders[it->second];
  };
  for (uint32_t i = 0; i < snapshot.sockets.size(); ++i) {
    const Socket& socket = snapshot.sockets[i];
    if (socket.family == Family::kUnspec || socket.local.port != port) continue;
    if (protocol && socket.protocol != *protocol) continue;
    if (!socket.HasPorts()) continue;
    report.rows.push_back(i);
    if (socket.state == SocketState::kTimeWait) ++report.time_wait;

    const bool listener = socket.direction == Direction::kListen;
    std::string description;
    if (listener) {
      report.has_listener = true;
      if (WiderThan(socket.exposure, report.widest)) report.widest = socket.exposure;
      if (socket.exposure == Exposure::kAddress) {
        report.specific_addresses.push_back(socket.local.address.ToString());
      }
      description = ListenerDescription(socket);
    }
    const auto record = [&](PortHolder& holder) {
      if (listener) {
        holder.listening.push_back(description);
      } else {
        ++holder.connections[StateName(socket.protocol, socket.state)];
      }
    };
    const auto owners = snapshot.Owners(socket);
    if (owners.empty()) {
      PortHolder& holder =
          slot_for((uint64_t{1} << 40) | static_cast<uint64_t>(socket.owner_status));
      holder.status = socket.owner_status;
      record(holder);
    }
    for (uint32_t owner : owners) {
      PortHolder& holder = slot_for(owner);
      holder.process = &snapshot.processes[owner];
      record(holder);
    }
  }
  return report;
}

bool PortReport::reachable_from_other_hosts() const {
  return has_listener && WiderThan(widest, Exposure::kLoopback);  // one address or all
}

std::string PortReport::Label() const {
  return protocol ? fmt::format("{}/{}", port, ProtocolName(*protocol)) : std::to_string(port);
}

std::string_view PortReport::Service() const {
  return ServiceName(port, protocol.value_or(Protocol::kTcp));
}

std::string PortReport::Reachability() const {
  if (!has_listener) {
    return "nothing listens on it, so connecting to it gets \"connection refused\"";
  }
  switch (widest) {
    case Exposure::kAll:
      return "yes, it listens on all interfaces (a firewall may still block it)";
    case Exposure::kAddress:
      return fmt::format(
          "only through {}; connections to other addresses of this host get "
          "\"connection refused\"",
          fmt::join(specific_addresses, ", "));
    case Exposure::kLoopback:
      return "no, it listens on loopback only: other hosts get \"connection refused\"; bind "
             "0.0.0.0 or a host address to serve them";
    case Exposure::kNone:
      break;
  }
  return "unknown";
}

}  // namespace portwatch::collectors
