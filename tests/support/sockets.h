// Sockets a test opens on this host, to be found again by the code under test.
//
// Bind to port 0, so that tests running in parallel never collide. A call that cannot open, bind,
// listen, connect or accept fails the test (non-fatally, with EXPECT) and returns what it has, so
// call these from the test's own thread; BindTo reports nothing and so also suits a forked child.
#pragma once

#include <cstdint>

namespace portwatch::testing {

// A descriptor, closed on scope exit. Move-only.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(Fd&& other) noexcept;
  Fd& operator=(Fd&& other) noexcept;

  int get() const { return fd_; }
  // Closes the descriptor now (a no-op when there is none).
  void Reset();

 private:
  int fd_;
};

// Closes a connected socket with a reset rather than a FIN, so it leaves no TIME_WAIT socket
// behind.
void CloseWithReset(Fd& fd);

// The inode of a descriptor, as /proc and sock_diag report it for a socket.
uint64_t InodeOf(const Fd& fd);

// The local port of a bound IPv4 or IPv6 socket.
uint16_t PortOf(const Fd& fd);

// A socket the test opened, with the port and inode it got: both stay known after the descriptor
// is closed or handed to a child process.
struct TestSocket {
  Fd fd;
  uint16_t port = 0;
  uint64_t inode = 0;
};

// Takes a bound or connected IPv4 or IPv6 socket and records its port and inode.
TestSocket Record(Fd fd);

// Binds fd to address:port (an IPv4 literal for AF_INET, IPv6 for AF_INET6); false when that
// fails, as when the port is taken.
bool BindTo(int fd, int family, const char* address, uint16_t port);

// A socket of `type` (SOCK_STREAM, SOCK_DGRAM) bound to address:port; port 0 picks a free
// ephemeral port. An AF_INET6 socket is dual-stack unless v6only.
TestSocket Bind(int family, int type, const char* address, uint16_t port = 0, bool v6only = false);

// A TCP listener on address and an ephemeral port.
TestSocket Listen(int family, const char* address, bool v6only = false);

// The client end of a TCP connection to 127.0.0.1:port.
TestSocket ConnectLoopback(uint16_t port);

// The server end of the next connection the listener accepts.
TestSocket Accept(const TestSocket& listener);

}  // namespace portwatch::testing
