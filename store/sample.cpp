#include "store/sample.h"

#include <cstring>
#include <string>
#include <unordered_set>

namespace portwatch::store {

using namespace collectors;

Sample CountSample(const Snapshot& snapshot, int64_t at) {
  Sample sample;
  sample.at = at;
  std::unordered_set<std::string> remotes;
  for (const Socket& socket : snapshot.sockets) {
    ++sample.sockets;
    switch (socket.protocol) {
      case Protocol::kTcp:
        ++sample.tcp;
        break;
      case Protocol::kUdp:
        ++sample.udp;
        break;
      case Protocol::kRaw:
        ++sample.raw;
        break;
      case Protocol::kPacket:
        ++sample.packet;
        break;
    }
    if (socket.direction == Direction::kListen) ++sample.listeners;
    if (socket.state == SocketState::kEstablished) ++sample.established;
    if (socket.state == SocketState::kTimeWait) ++sample.time_wait;
    if (socket.remote_class != AddressClass::kNone &&
        socket.remote_class != AddressClass::kLoopback) {
      // ::ffff:a.b.c.d and a.b.c.d are one host: count the unmapped form.
      const collectors::Address host = socket.remote.address.Unmapped();
      remotes.emplace(
          std::string(reinterpret_cast<const char*>(host.bytes.data()), host.bytes.size()) +
          static_cast<char>(host.family));
    }
  }
  sample.remote_hosts = static_cast<int64_t>(remotes.size());
  return sample;
}

}  // namespace portwatch::store
