#include "collectors/linux/process_reader.h"

#include <fcntl.h>
#include <pwd.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <vector>

#include "collectors/linux/proc_pid_parser.h"

namespace portwatch::collectors::linux {

namespace {

constexpr size_t kMaxCmdline = 4096;

// Reads up to capacity bytes of a small /proc file relative to dir_fd; nullopt when it can't.
std::optional<std::string> ReadSmallFile(int dir_fd, const char* path, size_t capacity) {
  const int fd = openat(dir_fd, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
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
  const std::optional<std::string> stat_text = ReadSmallFile(proc_fd_, path, 1024);
  if (!stat_text) return std::nullopt;
  std::optional<ProcStat> stat = ParseProcStat(*stat_text);
  if (!stat) return std::nullopt;

  auto cached = cache_.find(pid);
  if (cached != cache_.end() && cached->second.process.start_time == stat->start_time) {
    cached->second.pass = pass_;
    ++cache_hits_;
    return cached->second.process;
  }

  Process process;
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

  cache_[pid] = Cached{process, pass_};
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
