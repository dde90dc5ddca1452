#include "agent/rules/udp_settle.h"

#include "collectors/snapshot_diff.h"

namespace portwatch::agent::rules {

bool MaybeTransientUdp(const collectors::Socket& socket, const collectors::HostNetwork& host) {
  return socket.protocol == collectors::Protocol::kUdp &&
         socket.direction == collectors::Direction::kListen &&
         socket.local.port >= host.ephemeral_first && socket.local.port <= host.ephemeral_last;
}

void UdpSettle::Update(const collectors::Snapshot& snapshot, int64_t now_ms) {
  now_ms_ = now_ms;
  ++generation_;
  for (const collectors::Socket& socket : snapshot.sockets) {
    if (!MaybeTransientUdp(socket, snapshot.host)) continue;
    seen_.try_emplace(collectors::SocketIdentity(socket), Seen{now_ms, generation_})
        .first->second.generation = generation_;
  }
  std::erase_if(seen_,
                [this](const auto& entry) { return entry.second.generation != generation_; });
}

bool UdpSettle::Settled(const collectors::Socket& socket,
                        const collectors::HostNetwork& host) const {
  if (!MaybeTransientUdp(socket, host)) return true;
  const auto seen = seen_.find(collectors::SocketIdentity(socket));
  return seen != seen_.end() && now_ms_ - seen->second.first_ms >= settle_;
}

}  // namespace portwatch::agent::rules
