// DiffSnapshots: what changed between two snapshots — sockets opened, closed, changed state.
//
// Identity is the kernel's socket cookie, which survives state changes (a connection keeps its
// cookie into TIME_WAIT). Sockets read without a cookie (the /proc fallbacks) are matched on
// protocol, addresses, ports and inode instead. Pure and thread-compatible.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "collectors/snapshot.h"

namespace portwatch::collectors {

struct SnapshotDiff {
  std::vector<uint32_t> opened;  // indices into the current snapshot's sockets
  std::vector<uint32_t> closed;  // indices into the previous snapshot's sockets
  // (previous index, current index) of sockets present in both whose state changed.
  std::vector<std::pair<uint32_t, uint32_t>> changed;
  // (previous index, current index) of every socket present in both, changed or not, so a writer
  // can carry its own per-socket data (a database row id) from one interval to the next.
  std::vector<std::pair<uint32_t, uint32_t>> kept;

  bool empty() const { return opened.empty() && closed.empty() && changed.empty(); }
};

SnapshotDiff DiffSnapshots(const Snapshot& previous, const Snapshot& current);

// The identity key of a socket: its cookie when it has one, else a hash of its 5-tuple and inode.
// The top bit tells the two kinds apart so a cookie never equals a tuple hash.
uint64_t SocketIdentity(const Socket& socket);

}  // namespace portwatch::collectors
