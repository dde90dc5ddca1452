#include "collectors/derive.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace portwatch::collectors {

namespace {

uint32_t ListenKey(Protocol protocol, uint16_t port) {
  return (static_cast<uint32_t>(protocol) << 16) | port;
}

// Hash of an endpoint, for the set of local endpoints used to spot connections to ourselves.
struct EndpointHash {
  size_t operator()(const Endpoint& endpoint) const {
    uint64_t words[2];
    std::memcpy(words, endpoint.address.bytes.data(), sizeof(words));
    uint64_t h = words[0] * 0x9E3779B97F4A7C15ull ^ words[1];
    h ^= (uint64_t{endpoint.port} << 8) ^ static_cast<uint64_t>(endpoint.address.family);
    return static_cast<size_t>(h * 0xBF58476D1CE4E5B9ull);
  }
};

bool IsListener(const Socket& socket) {
  if (socket.protocol == Protocol::kTcp) return socket.state == SocketState::kListen;
  if (socket.protocol == Protocol::kUdp) {
    return socket.state == SocketState::kClose && socket.local.port != 0 &&
           socket.remote.address.IsUnspecified();
  }
  return false;
}

bool HasPeer(const Socket& socket) {
  return socket.remote.port != 0 || !socket.remote.address.IsUnspecified();
}

// A listener's address accepts a connection's local address when it is the same address, a
// wildcard of the same family, or an IPv6 wildcard that takes IPv4 too.
bool ListenerAccepts(const Socket& listener, const Address& local) {
  const Address& bound = listener.local.address;
  if (bound.IsUnspecified()) {
    if (bound.family == local.family) return true;
    return bound.family == Family::kIpv6 && !listener.v6only;
  }
  return bound.Unmapped() == local.Unmapped();
}

}  // namespace

void DeriveFields(Snapshot& snapshot) {
  // 1. Listeners by (protocol, port), and the local endpoints of connected sockets.
  std::unordered_map<uint32_t, std::vector<uint32_t>> listeners;
  std::unordered_set<Endpoint, EndpointHash> connected_locals;
  for (uint32_t i = 0; i < snapshot.sockets.size(); ++i) {
    const Socket& socket = snapshot.sockets[i];
    if (IsListener(socket)) {
      listeners[ListenKey(socket.protocol, socket.local.port)].push_back(i);
    } else if (HasPeer(socket) && !socket.remote.address.IsLoopback()) {
      connected_locals.insert(socket.local);
    }
  }

  // 2. Per-socket facts.
  for (Socket& socket : snapshot.sockets) {
    socket.port_category = CategorizePort(socket.local.port);
    socket.exposure = ExposureOf(socket.local.address);
    socket.remote_class =
        HasPeer(socket) ? ClassifyAddress(socket.remote.address) : AddressClass::kNone;
    socket.service_port = socket.local.port;
    if (IsListener(socket)) {
      socket.direction = Direction::kListen;
      continue;
    }
    if (!HasPeer(socket) || socket.protocol == Protocol::kPacket) {
      socket.direction = Direction::kNone;
      continue;
    }
    if (socket.remote.address.IsLoopback() || connected_locals.contains(socket.remote)) {
      socket.direction = Direction::kLocal;
      // Both ends are ours: the service is the end that has a listener.
      if (listeners.contains(ListenKey(socket.protocol, socket.local.port))) {
        socket.service_port = socket.local.port;
      } else if (listeners.contains(ListenKey(socket.protocol, socket.remote.port))) {
        socket.service_port = socket.remote.port;
      } else {
        socket.service_port = std::min(socket.local.port, socket.remote.port);
      }
      continue;
    }
    socket.direction = Direction::kOutbound;
    socket.service_port = socket.remote.port;
    auto it = listeners.find(ListenKey(socket.protocol, socket.local.port));
    if (it == listeners.end()) continue;
    for (uint32_t index : it->second) {
      if (ListenerAccepts(snapshot.sockets[index], socket.local.address)) {
        socket.direction = Direction::kInbound;
        socket.service_port = socket.local.port;
        break;
      }
    }
  }
}

}  // namespace portwatch::collectors
