// ScanSocketOwners: which processes hold which sockets, from /proc/PID/fd.
//
// One pass over every process's fd table (thread-group leaders only: threads share their
// leader's table, so the per-thread task/ directories are never walked), reading each link with
// readlinkat and keeping the "socket:[INODE]" ones in an InodeOwnerMap. The proc root is a
// parameter so tests can point it at a fake tree. Thread-compatible: no shared state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "collectors/linux/inode_owner_map.h"
#include "collectors/result.h"

namespace portwatch::collectors::linux {

struct OwnerScan {
  InodeOwnerMap owners;
  std::vector<int32_t> unreadable_pids;  // fd table or its links not readable (EACCES/EPERM)
  size_t processes_seen = 0;
};

// Fails only when the proc root itself cannot be read; a process that exits mid-scan is skipped.
Result<OwnerScan> ScanSocketOwners(const std::string& proc_root, size_t expected_sockets = 1024);

// The pids of every process (thread-group leaders: the numeric entries of the proc root), sorted.
std::vector<int32_t> ListPids(const std::string& proc_root);

// Parses a descriptor link target "socket:[12345]"; 0 for anything else.
uint64_t SocketInodeFromLink(std::string_view link);

}  // namespace portwatch::collectors::linux
