#include "agent/instance_lock.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace portwatch::agent {

Result<InstanceLock> InstanceLock::Acquire(const std::string& database) {
  const std::string path = database + ".lock";
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Error{fmt::format("cannot open {}: {}", path, std::strerror(errno))};
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    char text[32] = {};
    const ssize_t got = pread(fd, text, sizeof(text) - 1, 0);
    close(fd);
    if (error == EWOULDBLOCK) {
      return Error{fmt::format(
          "another portwatch (pid {}) is already recording into {}; stop it or choose another "
          "database",
          got > 0 ? std::string(text, static_cast<size_t>(got)) : std::string("unknown"),
          database)};
    }
    return Error{fmt::format("cannot lock {}: {}", path, std::strerror(error))};
  }
  const std::string pid = std::to_string(getpid());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    close(fd);
    return Error{fmt::format("cannot write {}: {}", path, std::strerror(errno))};
  }
  return InstanceLock(fd);
}

InstanceLock::InstanceLock(InstanceLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

InstanceLock::~InstanceLock() {
  if (fd_ >= 0) close(fd_);  // closing releases the flock
}

}  // namespace portwatch::agent
