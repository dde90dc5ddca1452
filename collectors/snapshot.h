// Snapshot: every socket on the host at one moment, and the processes that own them.
//
// A plain value: built by one collector pass, then read. Not synchronised; hand it between threads
// by moving it.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "collectors/socket.h"

namespace portwatch::collectors {

struct Snapshot {
  std::chrono::system_clock::time_point taken_at;
  std::chrono::nanoseconds duration{0};  // how long the collection took
  uint64_t netns = 0;                    // network namespace the sockets were read from

  std::vector<Socket> sockets;
  std::vector<Process> processes;
  // Process indices of each socket's owners; a Socket holds a range into this.
  std::vector<uint32_t> owner_indices;

  // Partial failures worth telling the user about ("raw sockets read from /proc/net/raw: ...").
  std::vector<std::string> warnings;

  std::span<const uint32_t> Owners(const Socket& socket) const {
    return std::span<const uint32_t>(owner_indices)
        .subspan(socket.owners_begin, socket.owner_count);
  }
  // The primary owner, or nullptr when the socket has none.
  const Process* PrimaryOwner(const Socket& socket) const {
    return socket.owner_count == 0 ? nullptr : &processes[owner_indices[socket.owners_begin]];
  }
};

}  // namespace portwatch::collectors
