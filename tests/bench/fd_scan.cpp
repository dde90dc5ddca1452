// fd_scan: the bare /proc fd scan, the benchmark's lower bound for finding socket owners.
//
// Usage: fd_scan
//
// Lists every /proc/<pid>/fd directory and readlinkat()s each entry, counting the links that name
// a socket ("socket:[inode]"). That is the minimum work any tool which maps sockets to processes
// through /proc must do; nothing is stored, no per-process files are read, no output per socket.
// The snapshot benchmark compares `portwatch snapshot` with `ss -tan` plus this scan.
//
// Prints one line, "pids P fds F sockets S unreadable U", and exits 0. Processes that vanish or
// deny access during the scan are counted as unreadable, not treated as errors.
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>

namespace {

struct Counts {
  long pids = 0;
  long fds = 0;
  long sockets = 0;
  long unreadable = 0;
};

bool IsPid(const char* name) {
  if (*name == '\0') return false;
  for (; *name != '\0'; ++name) {
    if (*name < '0' || *name > '9') return false;
  }
  return true;
}

// Scans one /proc/<pid>/fd directory, given /proc's fd and the pid's name.
void ScanProcess(int proc_fd, const char* pid, Counts& counts) {
  char path[sizeof(dirent::d_name) + sizeof("/fd")];
  std::snprintf(path, sizeof path, "%s/fd", pid);
  const int fd_dir = openat(proc_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd_dir < 0) {
    ++counts.unreadable;
    return;
  }
  DIR* entries = fdopendir(fd_dir);  // owns fd_dir from here on
  if (entries == nullptr) {
    close(fd_dir);
    ++counts.unreadable;
    return;
  }
  ++counts.pids;
  constexpr std::string_view kSocketPrefix = "socket:[";
  char target[64];  // enough for "socket:[inode]"; longer targets are cut, which is fine
  while (const dirent* entry = readdir(entries)) {
    if (entry->d_name[0] == '.') continue;
    const ssize_t length = readlinkat(fd_dir, entry->d_name, target, sizeof target);
    if (length < 0) continue;  // the fd was closed since the listing
    ++counts.fds;
    if (std::string_view(target, static_cast<size_t>(length)).starts_with(kSocketPrefix)) {
      ++counts.sockets;
    }
  }
  closedir(entries);
}

}  // namespace

int main() {
  DIR* proc = opendir("/proc");
  if (proc == nullptr) {
    std::fprintf(stderr, "fd_scan: cannot open /proc: %s\n", std::strerror(errno));
    return 1;
  }
  Counts counts;
  while (const dirent* entry = readdir(proc)) {
    if (IsPid(entry->d_name)) ScanProcess(dirfd(proc), entry->d_name, counts);
  }
  closedir(proc);
  std::printf("pids %ld fds %ld sockets %ld unreadable %ld\n", counts.pids, counts.fds,
              counts.sockets, counts.unreadable);
  return 0;
}
