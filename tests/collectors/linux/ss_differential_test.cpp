// Differential test: the collector and iproute2's `ss -tuanp` must describe the test's own
// sockets identically, and both must match what the sockets say about themselves.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collectors/collector.h"
#include "tests/support/sockets.h"
#include "tests/support/subprocess.h"

namespace portwatch::collectors {
namespace {

using portwatch::testing::Fd;

sockaddr_storage Loopback(int family) {
  sockaddr_storage address{};
  address.ss_family = static_cast<sa_family_t>(family);
  if (family == AF_INET) {
    reinterpret_cast<sockaddr_in&>(address).sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  } else {
    reinterpret_cast<sockaddr_in6&>(address).sin6_addr = in6addr_loopback;
  }
  return address;
}

sockaddr_storage Wildcard(int family) {
  sockaddr_storage address{};
  address.ss_family = static_cast<sa_family_t>(family);
  return address;
}

socklen_t LengthOf(const sockaddr_storage& address) {
  return address.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
}

// A socket bound to `address` with an ephemeral port (explicitly bound, so that no other
// connection shares its port). Close-on-exec, like every socket here, so that `ss` does not inherit
// the test's sockets and show itself as a second owner.
Fd Bound(int type, const sockaddr_storage& address) {
  Fd fd(socket(address.ss_family, type | SOCK_CLOEXEC, 0));
  EXPECT_GE(fd.get(), 0) << std::strerror(errno);
  EXPECT_EQ(bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), LengthOf(address)), 0)
      << std::strerror(errno);
  return fd;
}

sockaddr_storage NameOf(const Fd& fd, bool peer = false) {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  auto* raw = reinterpret_cast<sockaddr*>(&address);
  EXPECT_EQ(peer ? getpeername(fd.get(), raw, &length) : getsockname(fd.get(), raw, &length), 0)
      << std::strerror(errno);
  return address;
}

uint16_t PortOf(const sockaddr_storage& address) {
  return ntohs(address.ss_family == AF_INET
                   ? reinterpret_cast<const sockaddr_in&>(address).sin_port
                   : reinterpret_cast<const sockaddr_in6&>(address).sin6_port);
}

Fd Listening(const sockaddr_storage& address) {
  Fd fd = Bound(SOCK_STREAM, address);
  EXPECT_EQ(listen(fd.get(), 4), 0);
  return fd;
}

Fd ConnectedTo(const Fd& listener) {
  const sockaddr_storage target = NameOf(listener);
  Fd fd = Bound(SOCK_STREAM, Loopback(target.ss_family));
  EXPECT_EQ(connect(fd.get(), reinterpret_cast<const sockaddr*>(&target), LengthOf(target)), 0)
      << std::strerror(errno);
  return fd;
}

Fd Accepted(const Fd& listener) {
  Fd fd(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  EXPECT_GE(fd.get(), 0) << std::strerror(errno);
  return fd;
}

// Endpoints in one spelling for all three sources: "127.0.0.1:80", "[::1]:80"; an unspecified
// address or port is "*" (ss writes a wildcard as "0.0.0.0", "[::]" or "*" depending on the
// socket, and a missing port as "*").
std::string Canonical(int family, const void* address_bytes, uint16_t port) {
  const size_t size = family == AF_INET ? 4 : 16;
  const auto* bytes = static_cast<const uint8_t*>(address_bytes);
  std::string text;
  if (std::all_of(bytes, bytes + size, [](uint8_t b) { return b == 0; })) {
    text = "*";
  } else {
    char buffer[INET6_ADDRSTRLEN];
    inet_ntop(family, address_bytes, buffer, sizeof(buffer));
    text = family == AF_INET ? std::string(buffer) : "[" + std::string(buffer) + "]";
  }
  return text + ":" + (port == 0 ? "*" : std::to_string(port));
}

std::string Canonical(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET) {
    return Canonical(AF_INET, &reinterpret_cast<const sockaddr_in&>(address).sin_addr,
                     PortOf(address));
  }
  return Canonical(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(address).sin6_addr,
                   PortOf(address));
}

std::string Canonical(const Endpoint& endpoint) {
  return Canonical(endpoint.address.family == Family::kIpv4 ? AF_INET : AF_INET6,
                   endpoint.address.bytes.data(), endpoint.port);
}

// Parses ss's "addr:port", "[v6addr]:port", "addr%iface:port" or "*:*"; empty when malformed.
std::string CanonicalFromSs(std::string_view text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return {};
  std::string address(text.substr(0, colon));
  const std::string_view port_text = text.substr(colon + 1);
  if (const size_t percent = address.find('%'); percent != std::string::npos) {
    address.resize(percent);
  }
  if (address.size() >= 2 && address.front() == '[' && address.back() == ']') {
    address = address.substr(1, address.size() - 2);
  }
  uint16_t port = 0;
  if (port_text != "*") port = static_cast<uint16_t>(std::stoul(std::string(port_text)));
  std::array<uint8_t, 16> bytes{};
  if (address == "*") return Canonical(AF_INET6, bytes.data(), port);
  if (inet_pton(AF_INET, address.c_str(), bytes.data()) == 1) {
    return Canonical(AF_INET, bytes.data(), port);
  }
  if (inet_pton(AF_INET6, address.c_str(), bytes.data()) == 1) {
    return Canonical(AF_INET6, bytes.data(), port);
  }
  return {};
}

// ss's state column (iproute2 misc/ss.c, sstate_name), read independently of the product's own
// state-name parser.
SocketState StateFromSs(std::string_view text) {
  static const std::map<std::string_view, SocketState> kStates = {
      {"ESTAB", SocketState::kEstablished},   {"SYN-SENT", SocketState::kSynSent},
      {"SYN-RECV", SocketState::kSynRecv},    {"FIN-WAIT-1", SocketState::kFinWait1},
      {"FIN-WAIT-2", SocketState::kFinWait2}, {"TIME-WAIT", SocketState::kTimeWait},
      {"UNCONN", SocketState::kClose},        {"CLOSE-WAIT", SocketState::kCloseWait},
      {"LAST-ACK", SocketState::kLastAck},    {"LISTEN", SocketState::kListen},
      {"CLOSING", SocketState::kClosing},     {"NEW-SYN-RECV", SocketState::kNewSynRecv},
  };
  const auto found = kStates.find(text);
  return found == kStates.end() ? SocketState::kUnknown : found->second;
}

// What both tools must agree on for one socket, keyed by "proto local peer".
struct Row {
  SocketState state = SocketState::kUnknown;
  std::set<std::string> owners;  // "name/pid"

  friend bool operator==(const Row&, const Row&) = default;
  friend std::ostream& operator<<(std::ostream& out, const Row& row) {
    out << StateName(Protocol::kTcp, row.state) << " owners {";
    for (const std::string& owner : row.owners) out << ' ' << owner;
    return out << " }";
  }
};
using Rows = std::map<std::string, Row>;

std::string Key(std::string_view protocol, const std::string& local, const std::string& peer) {
  return std::string(protocol) + " " + local + " " + peer;
}

// The ports the test bound, per protocol: a socket is the test's when its local port is one.
using OwnPorts = std::map<std::string, std::set<uint16_t>, std::less<>>;

bool IsOwn(const OwnPorts& ports, std::string_view protocol, uint16_t port) {
  const auto found = ports.find(protocol);
  return found != ports.end() && found->second.contains(port);
}

// Reads ss's process column, users:(("name",pid=N,fd=M),("other",pid=P,fd=Q)), as "name/N".
std::set<std::string> OwnersFromSs(std::string_view users) {
  constexpr std::string_view kPid = "\",pid=";
  std::set<std::string> owners;
  for (size_t open = users.find("(\""); open != std::string_view::npos;
       open = users.find("(\"", open + 1)) {
    const size_t name_end = users.find(kPid, open + 2);
    if (name_end == std::string_view::npos) break;
    const size_t pid_begin = name_end + kPid.size();
    const size_t pid_end = users.find(',', pid_begin);
    if (pid_end == std::string_view::npos) break;
    owners.insert(std::string(users.substr(open + 2, name_end - open - 2)) + "/" +
                  std::string(users.substr(pid_begin, pid_end - pid_begin)));
    open = pid_end;
  }
  return owners;
}

Rows RowsFromSs(const std::string& output, const OwnPorts& ports) {
  Rows rows;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string netid, state, recv_q, send_q, local, peer;
    if (!(fields >> netid >> state >> recv_q >> send_q >> local >> peer)) continue;
    const size_t colon = local.rfind(':');
    if (colon == std::string::npos || local.substr(colon + 1) == "*") continue;
    if (!IsOwn(ports, netid, static_cast<uint16_t>(std::stoul(local.substr(colon + 1))))) {
      continue;
    }
    const std::string key = Key(netid, CanonicalFromSs(local), CanonicalFromSs(peer));
    EXPECT_EQ(rows.count(key), 0u) << "ss lists " << key << " twice";
    Row& row = rows[key];
    row.state = StateFromSs(state);
    EXPECT_NE(row.state, SocketState::kUnknown) << "unexpected ss state in: " << line;
    std::string users;
    std::getline(fields, users);
    row.owners = OwnersFromSs(users);
  }
  return rows;
}

Rows RowsFromSnapshot(const Snapshot& snapshot, const OwnPorts& ports) {
  Rows rows;
  for (const Socket& socket : snapshot.sockets) {
    if (!socket.HasPorts() || !IsOwn(ports, ProtocolName(socket.protocol), socket.local.port)) {
      continue;
    }
    const std::string key =
        Key(ProtocolName(socket.protocol), Canonical(socket.local), Canonical(socket.remote));
    EXPECT_EQ(rows.count(key), 0u) << "the collector lists " << key << " twice";
    Row& row = rows[key];
    row.state = socket.state;
    for (uint32_t index : snapshot.Owners(socket)) {
      const Process& process = snapshot.processes[index];
      row.owners.insert(process.name + "/" + std::to_string(process.pid));
    }
  }
  return rows;
}

std::set<std::string> KeysOf(const Rows& rows) {
  std::set<std::string> keys;
  for (const auto& entry : rows) keys.insert(entry.first);
  return keys;
}

std::string OwnComm() {
  std::ifstream file("/proc/self/comm");
  std::string comm;
  std::getline(file, comm);
  return comm;
}

TEST(SsDifferential, ReadsSsColumns) {
  // The helpers the comparison below relies on, on lines as ss 6.1 prints them.
  EXPECT_EQ(OwnersFromSs(R"(users:(("sshd",pid=812,fd=3),("sshd",pid=9001,fd=4)))"),
            (std::set<std::string>{"sshd/812", "sshd/9001"}));
  EXPECT_TRUE(OwnersFromSs("").empty());
  EXPECT_EQ(CanonicalFromSs("0.0.0.0:*"), "*:*");
  EXPECT_EQ(CanonicalFromSs("*:5353"), "*:5353");
  EXPECT_EQ(CanonicalFromSs("[::]:22"), "*:22");
  EXPECT_EQ(CanonicalFromSs("[::1]:631"), "[::1]:631");
  EXPECT_EQ(CanonicalFromSs("[::ffff:127.0.0.1]:80"), "[::ffff:127.0.0.1]:80");
  EXPECT_EQ(CanonicalFromSs("127.0.0.53%lo:53"), "127.0.0.53:53");
  EXPECT_EQ(StateFromSs("FIN-WAIT-1"), SocketState::kFinWait1);
  EXPECT_EQ(StateFromSs("UNCONN"), SocketState::kClose);
}

TEST(SsDifferential, AgreesWithSsOnTheTestsOwnSockets) {
  const Fd listener4 = Listening(Loopback(AF_INET));
  const Fd listener6 = Listening(Loopback(AF_INET6));
  const Fd client4 = ConnectedTo(listener4);
  const Fd server4 = Accepted(listener4);
  const Fd client6 = ConnectedTo(listener6);
  const Fd server6 = Accepted(listener6);
  const Fd udp4 = Bound(SOCK_DGRAM, Wildcard(AF_INET));
  const Fd udp6 = Bound(SOCK_DGRAM, Wildcard(AF_INET6));  // dual-stack: ss shows "*:port"

  // What the sockets say about themselves.
  const std::string owner = OwnComm() + "/" + std::to_string(getpid());
  const sockaddr_storage nowhere4 = Wildcard(AF_INET);
  const sockaddr_storage nowhere6 = Wildcard(AF_INET6);
  Rows expected;
  auto expect = [&](const char* protocol, const sockaddr_storage& local,
                    const sockaddr_storage& peer, SocketState state) {
    expected[Key(protocol, Canonical(local), Canonical(peer))] = Row{state, {owner}};
  };
  expect("tcp", NameOf(listener4), nowhere4, SocketState::kListen);
  expect("tcp", NameOf(listener6), nowhere6, SocketState::kListen);
  expect("tcp", NameOf(client4), NameOf(client4, true), SocketState::kEstablished);
  expect("tcp", NameOf(server4), NameOf(server4, true), SocketState::kEstablished);
  expect("tcp", NameOf(client6), NameOf(client6, true), SocketState::kEstablished);
  expect("tcp", NameOf(server6), NameOf(server6, true), SocketState::kEstablished);
  expect("udp", NameOf(udp4), nowhere4, SocketState::kClose);
  expect("udp", NameOf(udp6), nowhere6, SocketState::kClose);
  ASSERT_EQ(expected.size(), 8u);
  const OwnPorts ports = {
      {"tcp",
       {PortOf(NameOf(listener4)), PortOf(NameOf(listener6)), PortOf(NameOf(client4)),
        PortOf(NameOf(client6))}},
      {"udp", {PortOf(NameOf(udp4)), PortOf(NameOf(udp6))}},
  };

  CollectorOptions options;
  options.raw = false;
  options.packet = false;
  Result<Snapshot> snapshot = MakeCollector(options)->Collect();
  ASSERT_TRUE(snapshot.ok()) << snapshot.error().message;
  const testing::CommandResult ss = testing::RunCommand({"ss", "-tuanp", "-H"});
  if (ss.exit_code == 127) GTEST_SKIP() << "ss (iproute2) is not installed";
  ASSERT_EQ(ss.exit_code, 0) << ss.err;

  const Rows from_ss = RowsFromSs(ss.out, ports);
  const Rows from_collector = RowsFromSnapshot(*snapshot, ports);

  // Nothing missing, nothing extra: both list exactly the sockets the test opened.
  EXPECT_EQ(KeysOf(from_ss), KeysOf(expected));
  EXPECT_EQ(KeysOf(from_collector), KeysOf(from_ss));
  for (const auto& [key, row] : from_ss) {
    const auto collected = from_collector.find(key);
    if (collected == from_collector.end()) continue;  // reported above
    EXPECT_EQ(collected->second.state, row.state) << key;
    EXPECT_EQ(collected->second.owners, row.owners) << key;
  }
  EXPECT_EQ(from_ss, expected);
}

}  // namespace
}  // namespace portwatch::collectors
