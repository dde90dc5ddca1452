#include "collectors/linux/proc_owners.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "collectors/parse_number.h"

namespace portwatch::collectors::linux {

namespace {

struct DirCloser {
  void operator()(DIR* dir) const { closedir(dir); }
};
using DirHandle = std::unique_ptr<DIR, DirCloser>;

// Opens a directory relative to parent_fd; the DIR owns the descriptor.
DirHandle OpenDirAt(int parent_fd, const char* name) {
  const int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  DIR* dir = fdopendir(fd);
  if (dir == nullptr) close(fd);
  return DirHandle(dir);
}

bool ParsePid(const char* name, int32_t& pid) { return ParseNumber(name, pid) && pid > 0; }

}  // namespace

uint64_t SocketInodeFromLink(std::string_view link) {
  constexpr std::string_view kPrefix = "socket:[";
  if (link.size() <= kPrefix.size() + 1 || link.substr(0, kPrefix.size()) != kPrefix ||
      link.back() != ']') {
    return 0;
  }
  const std::string_view digits = link.substr(kPrefix.size(), link.size() - kPrefix.size() - 1);
  uint64_t inode = 0;
  return ParseNumber(digits, inode) ? inode : 0;
}

std::vector<int32_t> ListPids(const std::string& proc_root) {
  std::vector<int32_t> pids;
  DirHandle proc(opendir(proc_root.c_str()));
  if (!proc) return pids;
  while (const dirent* entry = readdir(proc.get())) {
    int32_t pid = 0;
    if (ParsePid(entry->d_name, pid)) pids.push_back(pid);
  }
  std::sort(pids.begin(), pids.end());
  return pids;
}

Result<OwnerScan> ScanSocketOwners(const std::string& proc_root, size_t expected_sockets) {
  DirHandle proc(opendir(proc_root.c_str()));
  if (!proc) {
    return Error{"cannot read " + proc_root + ": " + std::strerror(errno) + " (is /proc mounted?)"};
  }
  OwnerScan scan{InodeOwnerMap(expected_sockets), {}, 0};
  const int proc_fd = dirfd(proc.get());
  char path[32];
  char link[64];
  while (const dirent* process = readdir(proc.get())) {
    int32_t pid = 0;
    if (!ParsePid(process->d_name, pid)) continue;
    ++scan.processes_seen;
    std::snprintf(path, sizeof(path), "%d/fd", pid);
    DirHandle fds = OpenDirAt(proc_fd, path);
    if (!fds) {
      if (errno == EACCES || errno == EPERM) scan.unreadable_pids.push_back(pid);
      continue;  // ENOENT: the process exited since readdir saw it
    }
    const int fds_fd = dirfd(fds.get());
    while (const dirent* descriptor = readdir(fds.get())) {
      if (descriptor->d_name[0] == '.') continue;
      const ssize_t length = readlinkat(fds_fd, descriptor->d_name, link, sizeof(link));
      if (length < 0 && (errno == EACCES || errno == EPERM)) {
        // The directory could be listed (CAP_DAC_READ_SEARCH) but its links are behind a ptrace
        // check (CAP_SYS_PTRACE): none of them will read.
        scan.unreadable_pids.push_back(pid);
        break;
      }
      // Socket links are short; anything that fills the buffer is a path, not a socket.
      if (length <= 0 || static_cast<size_t>(length) >= sizeof(link)) continue;
      if (link[0] != 's') continue;  // fast reject of paths, pipes and anon inodes
      scan.owners.Add(SocketInodeFromLink(std::string_view(link, static_cast<size_t>(length))),
                      pid);
    }
  }
  return scan;
}

}  // namespace portwatch::collectors::linux
