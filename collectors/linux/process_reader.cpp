#include "collectors/linux/process_reader.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <vector>

#include "collectors/linux/proc_pid_parser.h"

namespace portwatch::collectors::linux {

namespace {

constexpr size_t kMaxCmdline = 4096;

// Reads up to capacity bytes of a small /proc file relative to dir_fd; nullopt when it can't.
// owner, when given, receives the file's owner (fstat on the open descriptor: no second lookup).
std::optional<std::string> ReadSmallFile(int dir_fd, const char* path, size_t capacity,
                                         uint32_t* owner = nullptr) {
  const int fd = openat(dir_fd, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  if (owner != nullptr) {
    struct stat info;
    *owner = fstat(fd, &info) == 0 ? info.st_uid : 0;
  }
  std::string content(capacity, '\0');
  size_t filled = 0;
  while (filled < capacity) {
    const ssize_t got = read(fd, content.data() + filled, capacity - filled);
    if (got < 0) {
      close(fd);
      return std::nullopt;
    }
    if (got == 0) break;
    filled += static_cast<size_t>(got);
  }
  close(fd);
  content.resize(filled);
  return content;
}

// The file /proc/PID/exe resolves to, as stat(2) through the link sees it (a deleted binary is
// still the file the process runs). All zero when the link cannot be followed (kernel threads,
// another user's process without CAP_SYS_PTRACE).
void StatExecutable(int proc_fd, int32_t pid, Process& process) {
  char path[48];
  std::snprintf(path, sizeof(path), "%d/exe", pid);
  struct stat info;
  if (fstatat(proc_fd, path, &info, 0) != 0) {
    process.exe_device = process.exe_inode = 0;
    process.exe_mtime_ns = 0;
    return;
  }
  process.exe_device = static_cast<uint64_t>(info.st_dev);
  process.exe_inode = static_cast<uint64_t>(info.st_ino);
  process.exe_mtime_ns = static_cast<int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 +
                         static_cast<int64_t>(info.st_mtim.tv_nsec);
}

bool SameExecutable(const Process& a, const Process& b) {
  return a.exe_device == b.exe_device && a.exe_inode == b.exe_inode &&
         a.exe_mtime_ns == b.exe_mtime_ns;
}

}  // namespace

ProcessReader::ProcessReader(std::string proc_root) : proc_root_(std::move(proc_root)) {
  proc_fd_ = open(proc_root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

ProcessReader::~ProcessReader() {
  if (proc_fd_ >= 0) close(proc_fd_);
}

std::optional<Process> ProcessReader::Read(int32_t pid) {
  if (proc_fd_ < 0) return std::nullopt;
  char path[48];
  std::snprintf(path, sizeof(path), "%d/stat", pid);
  uint32_t stat_owner = 0;
  const std::optional<std::string> stat_text = ReadSmallFile(proc_fd_, path, 1024, &stat_owner);
  if (!stat_text) return std::nullopt;
  std::optional<ProcStat> stat = ParseProcStat(*stat_text);
  if (!stat) return std::nullopt;

  Process process;
  StatExecutable(proc_fd_, pid, process);
  auto cached = cache_.find(pid);
  if (cached != cache_.end() && cached->second.process.start_time == stat->start_time) {
    const Process& known = cached->second.process;
    // An exe link that no longer resolves (a process exiting has released its memory map, which
    // holds the executable, before its descriptors) tells nothing new: keep what was read.
    const bool exe_unknown = process.exe_device == 0 && process.exe_inode == 0;
    if (known.name == stat->name && cached->second.stat_owner == stat_owner &&
        (exe_unknown || SameExecutable(known, process))) {
      cached->second.pass = pass_;
      ++cache_hits_;
      return known;
    }
    ++identity_changes_;  // an execve, a new comm or new credentials under the same pid
  }

  process.pid = pid;
  process.ppid = stat->ppid;
  process.start_time = stat->start_time;
  process.name = std::move(stat->name);

  std::snprintf(path, sizeof(path), "%d/status", pid);
  if (std::optional<std::string> status = ReadSmallFile(proc_fd_, path, 4096)) {
    process.uid = ParseStatusEffectiveUid(*status).value_or(0);
  }
  process.user = UserName(process.uid);

  std::snprintf(path, sizeof(path), "%d/exe", pid);
  std::array<char, 4096> link;
  const ssize_t length = readlinkat(proc_fd_, path, link.data(), link.size());
  if (length > 0 && static_cast<size_t>(length) < link.size()) {
    process.exe = std::string(StripDeletedSuffix(
        std::string_view(link.data(), static_cast<size_t>(length)), process.exe_deleted));
  }

  std::snprintf(path, sizeof(path), "%d/cmdline", pid);
  if (std::optional<std::string> cmdline = ReadSmallFile(proc_fd_, path, kMaxCmdline)) {
    process.cmdline = JoinCmdline(*cmdline);
  }

  cache_[pid] = Cached{process, stat_owner, pass_};
  return process;
}

void ProcessReader::FinishPass() {
  std::erase_if(cache_, [this](const auto& entry) { return entry.second.pass != pass_; });
  ++pass_;
}

const std::string& ProcessReader::UserName(uint32_t uid) {
  auto it = user_names_.find(uid);
  if (it != user_names_.end()) return it->second;
  std::string name = std::to_string(uid);
  passwd entry;
  passwd* found = nullptr;
  std::vector<char> buffer(16384);
  if (getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) == 0 && found != nullptr) {
    name = found->pw_name;
  }
  return user_names_.emplace(uid, std::move(name)).first->second;
}

}  // namespace portwatch::collectors::linux
