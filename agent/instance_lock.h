// InstanceLock: one agent (or recorder) per database, held as an flock on "<database>.lock".
//
// The lock file holds the holder's pid so a second instance can say who is in the way. The kernel
// drops the lock when the process dies, even by SIGKILL, so a stale file never blocks a restart.
// RAII; not copyable.
#pragma once

#include <string>

#include "collectors/result.h"

namespace portwatch::agent {

class InstanceLock {
 public:
  static Result<InstanceLock> Acquire(const std::string& database);
  InstanceLock(InstanceLock&& other) noexcept;
  InstanceLock& operator=(InstanceLock&&) = delete;
  InstanceLock(const InstanceLock&) = delete;
  ~InstanceLock();

 private:
  explicit InstanceLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace portwatch::agent
