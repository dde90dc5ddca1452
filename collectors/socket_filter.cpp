#include "collectors/socket_filter.h"

#include <algorithm>

namespace portwatch::collectors {

using collectors::AddressClass;
using collectors::Direction;
using collectors::Family;
using collectors::Protocol;

void SocketFilter::Restrict(collectors::CollectorOptions& options) const {
  if (AnyProtocol()) return;
  options.tcp = tcp;
  options.udp = udp;
  options.raw = raw;
  options.packet = packet;
}

bool SocketFilter::MatchesEverything() const {
  return AnyProtocol() && !listening && !not_listening && !port && !pid && process.empty() &&
         !state && !local_port && !remote_port && user.empty() && !local_network &&
         !remote_network && !exposure && !direction && !remote_class;
}

bool SocketFilter::Matches(const collectors::Snapshot& snapshot,
                           const collectors::Socket& socket) const {
  if (!AnyProtocol()) {
    const bool wanted = (tcp && socket.protocol == Protocol::kTcp) ||
                        (udp && socket.protocol == Protocol::kUdp) ||
                        (raw && socket.protocol == Protocol::kRaw) ||
                        (packet && socket.protocol == Protocol::kPacket);
    if (!wanted) return false;
  }
  if (listening || not_listening) {
    // Raw and packet sockets receive whatever matches them, so they count as listening, as in ss.
    const bool listens = socket.direction == Direction::kListen ||
                         socket.protocol == Protocol::kRaw || socket.protocol == Protocol::kPacket;
    if (listens ? not_listening : listening) return false;
  }
  if (port) {
    // Only TCP and UDP have ports, and an unconnected socket's remote port 0 is no port at all.
    const bool has_peer = socket.remote.port != 0;
    if (!socket.HasPorts() ||
        (socket.local.port != *port && !(has_peer && socket.remote.port == *port))) {
      return false;
    }
  }
  if (state && socket.state != *state) return false;
  if (local_port && (!socket.HasPorts() || socket.local.port != *local_port)) return false;
  if (remote_port && (!socket.HasPorts() || socket.remote.port != *remote_port)) return false;
  if (exposure && socket.exposure != *exposure) return false;
  if (direction && socket.direction != *direction) return false;
  if (remote_class && socket.remote_class != *remote_class) return false;
  if (local_network && (socket.local.address.family == Family::kUnspec ||
                        !local_network->Contains(socket.local.address))) {
    return false;
  }
  if (remote_network && (socket.remote.address.family == Family::kUnspec ||
                         socket.remote_class == AddressClass::kNone ||
                         !remote_network->Contains(socket.remote.address))) {
    return false;
  }
  if (pid || !process.empty() || !user.empty()) {
    const auto owners = snapshot.Owners(socket);
    const bool owned = std::any_of(owners.begin(), owners.end(), [&](uint32_t index) {
      const collectors::Process& owner = snapshot.processes[index];
      return (!pid || owner.pid == *pid) && (process.empty() || owner.name == process) &&
             (user.empty() || owner.user == user);
    });
    if (!owned) return false;
  }
  return true;
}

}  // namespace portwatch::collectors
