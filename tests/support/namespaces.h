// OwnNamespaces: the test process in a network namespace of its own, with loopback up, and
// optionally a mount namespace of its own too.
//
// Sockets the test opens and a recorder it starts then see only each other, and a tmpfs the test
// mounts stays private to it and goes away with the process even if the test crashes. Entering
// needs root: entered() is false where it is not allowed, and the test goes on in the host's
// namespaces (or skips). The process must be single-threaded, and the object lives on the test's
// own thread: the destructor moves that thread back to the namespaces it came from.
#pragma once

namespace portwatch::testing {

class OwnNamespaces {
 public:
  enum class Scope { kNetwork, kNetworkAndMounts };

  explicit OwnNamespaces(Scope scope);
  ~OwnNamespaces();
  OwnNamespaces(const OwnNamespaces&) = delete;
  OwnNamespaces& operator=(const OwnNamespaces&) = delete;

  bool entered() const { return entered_; }

 private:
  int net_;  // the namespaces to return to
  int mnt_;  // -1 when the mount namespace is shared
  bool entered_ = false;
};

}  // namespace portwatch::testing
