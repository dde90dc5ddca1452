// ProcessReader: the details of a socket-owning process, read from /proc/PID and cached.
//
// The cache is keyed by pid and checked against the process start time, so a reused pid is never
// mistaken for the old process. Call FinishPass after each snapshot to forget processes that were
// not asked about in it. Not thread-safe: one reader per collector.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

#include "collectors/socket.h"

namespace portwatch::collectors::linux {

class ProcessReader {
 public:
  explicit ProcessReader(std::string proc_root);
  ~ProcessReader();
  ProcessReader(const ProcessReader&) = delete;
  ProcessReader& operator=(const ProcessReader&) = delete;

  // nullopt when the process is gone. Fields that cannot be read (exe of another user's process
  // without CAP_SYS_PTRACE) are left empty; the rest is still returned.
  std::optional<Process> Read(int32_t pid);
  // Drops cache entries not read since the previous FinishPass.
  void FinishPass();

  size_t cache_hits() const { return cache_hits_; }

 private:
  struct Cached {
    Process process;
    uint64_t pass = 0;
  };
  const std::string& UserName(uint32_t uid);

  std::string proc_root_;
  int proc_fd_ = -1;
  std::unordered_map<int32_t, Cached> cache_;
  std::unordered_map<uint32_t, std::string> user_names_;
  uint64_t pass_ = 1;
  size_t cache_hits_ = 0;
};

}  // namespace portwatch::collectors::linux
