// ProcessReader: the details of a socket-owning process, read from /proc/PID and cached.
//
// The cache is keyed by pid and checked on every Read against what an execve or a pid reuse would
// change: the start time, comm and the owner of /proc/PID/stat (all from the stat read that Read
// does anyway), and the executable's device, inode and mtime (one fstatat through
// /proc/PID/exe). Any difference reads the whole process again, so a process that execs into
// another binary is seen as its new self at the next pass. The owner of /proc/PID/stat is the
// effective uid while the process is dumpable and root otherwise, so a process that gains root
// is noticed; one that drops from root to another uid without exec is not (its status is not
// re-read on a hit: that would double the per-pass cost). Call FinishPass after each snapshot to
// forget processes that were not asked about in it. Not thread-safe: one reader per collector.
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
  // Cached processes read again because their identity changed (exec, comm, stat owner).
  size_t identity_changes() const { return identity_changes_; }

 private:
  struct Cached {
    Process process;
    uint32_t stat_owner = 0;  // owner of /proc/PID/stat when it was read
    uint64_t pass = 0;
  };
  const std::string& UserName(uint32_t uid);

  std::string proc_root_;
  int proc_fd_ = -1;
  std::unordered_map<int32_t, Cached> cache_;
  std::unordered_map<uint32_t, std::string> user_names_;
  uint64_t pass_ = 1;
  size_t cache_hits_ = 0;
  size_t identity_changes_ = 0;
};

}  // namespace portwatch::collectors::linux
