#include "collectors/snapshot_diff.h"

#include <cstring>
#include <unordered_map>

namespace portwatch::collectors {

namespace {

constexpr uint64_t kTupleBit = uint64_t{1} << 63;

uint64_t Mix(uint64_t hash, uint64_t value) {
  hash ^= value + 0x9E3779B97F4A7C15ull + (hash << 6) + (hash >> 2);
  return hash * 0xBF58476D1CE4E5B9ull;
}

uint64_t HashEndpoint(uint64_t hash, const Endpoint& endpoint) {
  uint64_t words[2];
  std::memcpy(words, endpoint.address.bytes.data(), sizeof(words));
  hash = Mix(hash, words[0]);
  hash = Mix(hash, words[1]);
  return Mix(hash, (uint64_t{endpoint.port} << 8) | static_cast<uint64_t>(endpoint.address.family));
}

}  // namespace

uint64_t SocketIdentity(const Socket& socket) {
  if (socket.cookie != 0) return socket.cookie & ~kTupleBit;
  uint64_t hash = Mix(static_cast<uint64_t>(socket.protocol), socket.protocol_number);
  hash = HashEndpoint(hash, socket.local);
  hash = HashEndpoint(hash, socket.remote);
  hash = Mix(hash, socket.inode);
  return hash | kTupleBit;
}

SnapshotDiff DiffSnapshots(const Snapshot& previous, const Snapshot& current) {
  constexpr uint32_t kEnd = UINT32_MAX;
  SnapshotDiff diff;
  // Identity -> the first unmatched previous socket with it; `next` chains the others, so a
  // socket listed twice (a cookie-less /proc entry, a repeated dump record) pairs k-th with k-th.
  std::unordered_map<uint64_t, uint32_t> first;
  first.reserve(previous.sockets.size());
  std::vector<uint32_t> next(previous.sockets.size(), kEnd);
  for (uint32_t i = static_cast<uint32_t>(previous.sockets.size()); i-- > 0;) {
    auto [it, added] = first.try_emplace(SocketIdentity(previous.sockets[i]), i);
    if (!added) {
      next[i] = it->second;
      it->second = i;
    }
  }
  std::vector<bool> seen(previous.sockets.size(), false);
  diff.kept.reserve(current.sockets.size());
  for (uint32_t i = 0; i < current.sockets.size(); ++i) {
    const Socket& socket = current.sockets[i];
    const auto match = first.find(SocketIdentity(socket));
    if (match == first.end() || match->second == kEnd) {
      diff.opened.push_back(i);
      continue;
    }
    const uint32_t before = match->second;
    match->second = next[before];
    seen[before] = true;
    diff.kept.emplace_back(before, i);
    if (previous.sockets[before].state != socket.state) diff.changed.emplace_back(before, i);
  }
  for (uint32_t i = 0; i < previous.sockets.size(); ++i) {
    if (!seen[i]) diff.closed.push_back(i);
  }
  return diff;
}

}  // namespace portwatch::collectors
