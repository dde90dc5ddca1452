// SnapshotView: the latest snapshot as the API serves it, with the answers every client asks for
// (listeners by program, processes, counts) computed once per snapshot, on first request.
//
// Immutable once published except for those caches, each filled once under std::call_once, so
// any number of request threads may read one view at the same time. Thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "collectors/snapshot.h"
#include "store/sample.h"

namespace portwatch::api {

// Counts for /metrics and the status page.
struct SocketCounts {
  // By protocol and state: [protocol][state].
  std::array<std::array<int64_t, collectors::kMaxSocketState + 1>, 4> by_state{};
  std::map<std::string, int64_t> listeners_by_exposure;  // "loopback", "address", "all"
  store::Sample sample;
};

class SnapshotView {
 public:
  SnapshotView(std::shared_ptr<const collectors::Snapshot> snapshot, int64_t sequence);

  const collectors::Snapshot& snapshot() const { return *snapshot_; }
  int64_t sequence() const { return sequence_; }
  int64_t taken_at() const { return taken_at_; }  // Unix milliseconds

  // {"taken_at":…,"programs":[{program, exe, user, pids, cmdline, exposure, listeners:[…]}]}
  const std::string& ListenersJson() const;
  // {"taken_at":…,"processes":[{pid, ppid, name, exe, cmdline, user, uid, sockets, listeners,
  // connections, tcp, udp}]}
  const std::string& ProcessesJson() const;
  const SocketCounts& Counts() const;

 private:
  std::shared_ptr<const collectors::Snapshot> snapshot_;
  int64_t sequence_;
  int64_t taken_at_;
  mutable std::once_flag listeners_once_, processes_once_, counts_once_;
  mutable std::string listeners_json_, processes_json_;
  mutable SocketCounts counts_;
};

}  // namespace portwatch::api
