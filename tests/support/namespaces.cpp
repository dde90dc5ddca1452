#include "tests/support/namespaces.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace portwatch::testing {

OwnNamespaces::OwnNamespaces(Scope scope)
    : net_(open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)),
      mnt_(scope == Scope::kNetworkAndMounts ? open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC)
                                             : -1) {
  const bool mounts = scope == Scope::kNetworkAndMounts;
  if (net_ < 0 || (mounts && mnt_ < 0)) return;
  if (unshare(CLONE_NEWNET | (mounts ? CLONE_NEWNS : 0)) != 0) return;
  entered_ = true;
  if (mounts) {
    EXPECT_EQ(mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0);
  }
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq request{};
  std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
  EXPECT_EQ(ioctl(fd, SIOCGIFFLAGS, &request), 0);
  request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP);
  EXPECT_EQ(ioctl(fd, SIOCSIFFLAGS, &request), 0) << "cannot bring loopback up";
  close(fd);
}

OwnNamespaces::~OwnNamespaces() {
  if (entered_) {
    EXPECT_EQ(setns(net_, CLONE_NEWNET), 0);
    if (mnt_ >= 0) {
      // Entering a mount namespace moves the working directory to its root: keep ours.
      const int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      EXPECT_EQ(setns(mnt_, CLONE_NEWNS), 0);
      if (cwd >= 0) (void)!fchdir(cwd);
      if (cwd >= 0) close(cwd);
    }
  }
  if (net_ >= 0) close(net_);
  if (mnt_ >= 0) close(mnt_);
}

}  // namespace portwatch::testing
