#include "tests/support/sockets.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace portwatch::testing {

Fd::Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

Fd& Fd::operator=(Fd&& other) noexcept {
  Reset();
  fd_ = std::exchange(other.fd_, -1);
  return *this;
}

void Fd::Reset() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

void CloseWithReset(Fd& fd) {
  if (fd.get() < 0) return;
  const linger abort{1, 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &abort, sizeof(abort));
  fd.Reset();
}

uint64_t InodeOf(const Fd& fd) {
  struct stat info {};
  EXPECT_EQ(fstat(fd.get(), &info), 0) << std::strerror(errno);
  return info.st_ino;
}

uint16_t PortOf(const Fd& fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  EXPECT_EQ(getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length), 0)
      << std::strerror(errno);
  return ntohs(address.ss_family == AF_INET
                   ? reinterpret_cast<const sockaddr_in*>(&address)->sin_port
                   : reinterpret_cast<const sockaddr_in6*>(&address)->sin6_port);
}

TestSocket Record(Fd fd) {
  TestSocket socket;
  socket.port = PortOf(fd);
  socket.inode = InodeOf(fd);
  socket.fd = std::move(fd);
  return socket;
}

bool BindTo(int fd, int family, const char* address, uint16_t port) {
  if (family == AF_INET) {
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_port = htons(port);
    inet_pton(AF_INET, address, &in.sin_addr);
    return bind(fd, reinterpret_cast<sockaddr*>(&in), sizeof(in)) == 0;
  }
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(port);
  inet_pton(AF_INET6, address, &in6.sin6_addr);
  return bind(fd, reinterpret_cast<sockaddr*>(&in6), sizeof(in6)) == 0;
}

TestSocket Bind(int family, int type, const char* address, uint16_t port, bool v6only) {
  Fd fd(socket(family, type | SOCK_CLOEXEC, 0));
  EXPECT_GE(fd.get(), 0) << std::strerror(errno);
  if (family == AF_INET6) {
    const int flag = v6only ? 1 : 0;
    EXPECT_EQ(setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &flag, sizeof(flag)), 0);
  }
  EXPECT_TRUE(BindTo(fd.get(), family, address, port))
      << address << " port " << port << ": " << std::strerror(errno);
  return Record(std::move(fd));
}

TestSocket Listen(int family, const char* address, bool v6only) {
  TestSocket socket = Bind(family, SOCK_STREAM, address, 0, v6only);
  EXPECT_EQ(listen(socket.fd.get(), 16), 0) << std::strerror(errno);
  return socket;
}

TestSocket ConnectLoopback(uint16_t port) {
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_GE(fd.get(), 0) << std::strerror(errno);
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(port);
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd.get(), reinterpret_cast<sockaddr*>(&in), sizeof(in)), 0)
      << std::strerror(errno);
  return Record(std::move(fd));
}

TestSocket Accept(const TestSocket& listener) {
  Fd fd(accept4(listener.fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
  EXPECT_GE(fd.get(), 0) << std::strerror(errno);
  return Record(std::move(fd));
}

}  // namespace portwatch::testing
