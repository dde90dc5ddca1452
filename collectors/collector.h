// Collector: takes a Snapshot of every socket on the host and the processes that own them.
//
// One interface, one implementation per platform (linux/, windows/), chosen by CMake: both define
// MakeCollector, so callers never see an #ifdef. A Collector keeps caches between calls (process
// details by pid and start time), so keep one for the life of the program. Not thread-safe: call
// Collect from one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "collectors/result.h"
#include "collectors/snapshot.h"

namespace portwatch::collectors {

struct CollectorOptions {
  bool tcp = true;
  bool udp = true;
  bool raw = true;
  bool packet = true;
  bool owners = true;  // join sockets to their processes (the /proc/*/fd scan)
  std::string proc_root = "/proc";
  bool force_proc_fallback = false;  // read /proc/net/* even where sock_diag works (tests)
};

class Collector {
 public:
  virtual ~Collector() = default;
  // Every socket of the selected protocols with its owners. Fails only when a whole table cannot
  // be read; smaller problems are reported in Snapshot::warnings.
  virtual Result<Snapshot> Collect() = 0;
};

std::unique_ptr<Collector> MakeCollector(const CollectorOptions& options);

// The name of running process `pid` (its comm on Linux), or empty when there is no such process.
// For the rules' parent conditions, which ask about processes that own no socket.
std::string ProcessName(int32_t pid);

}  // namespace portwatch::collectors
