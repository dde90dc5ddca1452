#include "collectors/socket_filter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

namespace portwatch::collectors {
namespace {

using collectors::Address;
using collectors::CollectorOptions;
using collectors::Direction;
using collectors::Family;
using collectors::Process;
using collectors::Protocol;
using collectors::Snapshot;
using collectors::Socket;
using collectors::SocketState;

// A hand-built snapshot with the sockets a host typically has: listeners, a connection, raw and
// packet sockets, one socket shared by two processes, one without an owner.
class FilterSnapshot {
 public:
  FilterSnapshot() {
    const uint32_t nginx_master = AddProcess(100, "nginx");
    const uint32_t nginx_worker = AddProcess(101, "nginx");
    const uint32_t sshd = AddProcess(200, "sshd");
    const uint32_t resolved = AddProcess(300, "systemd-resolve");
    const uint32_t dhcp = AddProcess(400, "dhclient");

    tcp_listener = Add(Tcp(SocketState::kListen, Direction::kListen, 22, 0), {sshd});
    // nginx's listener is shared by the master and a worker, the worker first.
    shared_listener =
        Add(Tcp(SocketState::kListen, Direction::kListen, 80, 0), {nginx_worker, nginx_master});
    inbound = Add(Tcp(SocketState::kEstablished, Direction::kInbound, 22, 51000), {sshd});
    outbound =
        Add(Tcp(SocketState::kEstablished, Direction::kOutbound, 43000, 443), {nginx_worker});
    time_wait = Add(Tcp(SocketState::kTimeWait, Direction::kOutbound, 43001, 80), {});
    udp_bound = Add(Udp(SocketState::kClose, Direction::kListen, 53, 0), {resolved});
    udp_connected =
        Add(Udp(SocketState::kEstablished, Direction::kOutbound, 41000, 53), {resolved});
    raw = Add(Special(Protocol::kRaw), {dhcp});
    packet = Add(Special(Protocol::kPacket), {dhcp});
  }

  const Socket& operator[](size_t index) const { return snapshot.sockets[index]; }

  // The indices of the sockets the filter lets through.
  std::vector<size_t> Select(const SocketFilter& filter) const {
    std::vector<size_t> selected;
    for (size_t i = 0; i < snapshot.sockets.size(); ++i) {
      if (filter.Matches(snapshot, snapshot.sockets[i])) selected.push_back(i);
    }
    return selected;
  }

  Snapshot snapshot;
  size_t tcp_listener, shared_listener, inbound, outbound, time_wait;
  size_t udp_bound, udp_connected, raw, packet;

 private:
  uint32_t AddProcess(int32_t pid, const std::string& name) {
    Process process;
    process.pid = pid;
    process.name = name;
    process.user = "root";
    snapshot.processes.push_back(process);
    return static_cast<uint32_t>(snapshot.processes.size() - 1);
  }

  static Socket Ip(Protocol protocol, SocketState state, Direction direction, uint16_t local_port,
                   uint16_t remote_port) {
    Socket socket;
    socket.protocol = protocol;
    socket.family = Family::kIpv4;
    socket.state = state;
    socket.direction = direction;
    socket.local = {Address::V4(10, 0, 0, 5), local_port};
    socket.remote = {remote_port == 0 ? Address::V4(0, 0, 0, 0) : Address::V4(192, 0, 2, 7),
                     remote_port};
    return socket;
  }
  static Socket Tcp(SocketState state, Direction direction, uint16_t local, uint16_t remote) {
    return Ip(Protocol::kTcp, state, direction, local, remote);
  }
  static Socket Udp(SocketState state, Direction direction, uint16_t local, uint16_t remote) {
    return Ip(Protocol::kUdp, state, direction, local, remote);
  }
  // Raw and packet sockets have no ports and, like the collector's, no direction.
  static Socket Special(Protocol protocol) {
    Socket socket;
    socket.protocol = protocol;
    socket.family = protocol == Protocol::kRaw ? Family::kIpv4 : Family::kUnspec;
    socket.state = SocketState::kClose;
    socket.direction = Direction::kNone;
    socket.protocol_number = protocol == Protocol::kRaw ? 1 : 3;
    return socket;
  }

  size_t Add(Socket socket, const std::vector<uint32_t>& owners) {
    socket.owners_begin = static_cast<uint32_t>(snapshot.owner_indices.size());
    socket.owner_count = static_cast<uint32_t>(owners.size());
    snapshot.owner_indices.insert(snapshot.owner_indices.end(), owners.begin(), owners.end());
    snapshot.sockets.push_back(socket);
    return snapshot.sockets.size() - 1;
  }
};

using Rows = std::vector<size_t>;

TEST(SocketFilter, EmptyFilterMatchesEverything) {
  const FilterSnapshot host;
  const SocketFilter filter;
  EXPECT_TRUE(filter.AnyProtocol());
  EXPECT_EQ(host.Select(filter).size(), host.snapshot.sockets.size());
  EXPECT_TRUE(filter.MatchesEverything());
}

TEST(SocketFilter, AnyConditionMeansItNoLongerMatchesEverything) {
  const std::vector<void (*)(SocketFilter&)> conditions = {
      [](SocketFilter& f) { f.tcp = true; },
      [](SocketFilter& f) { f.packet = true; },
      [](SocketFilter& f) { f.listening = true; },
      [](SocketFilter& f) { f.not_listening = true; },
      [](SocketFilter& f) { f.port = 22; },
      [](SocketFilter& f) { f.pid = 1; },
      [](SocketFilter& f) { f.process = "sshd"; },
      [](SocketFilter& f) { f.state = SocketState::kListen; },
      [](SocketFilter& f) { f.local_port = 22; },
      [](SocketFilter& f) { f.remote_port = 22; },
      [](SocketFilter& f) { f.user = "root"; },
      [](SocketFilter& f) { f.local_network = *Cidr::Parse("10.0.0.0/8"); },
      [](SocketFilter& f) { f.remote_network = *Cidr::Parse("10.0.0.0/8"); },
      [](SocketFilter& f) { f.exposure = Exposure::kAll; },
      [](SocketFilter& f) { f.direction = Direction::kListen; },
      [](SocketFilter& f) { f.remote_class = AddressClass::kPublic; },
  };
  for (size_t i = 0; i < conditions.size(); ++i) {
    SocketFilter filter;
    conditions[i](filter);
    EXPECT_FALSE(filter.MatchesEverything()) << "condition " << i;
  }
}

TEST(SocketFilter, ProtocolFlagsSelectTheirUnion) {
  const FilterSnapshot host;
  SocketFilter tcp;
  tcp.tcp = true;
  EXPECT_FALSE(tcp.AnyProtocol());
  EXPECT_EQ(host.Select(tcp), (Rows{host.tcp_listener, host.shared_listener, host.inbound,
                                    host.outbound, host.time_wait}));

  SocketFilter udp;
  udp.udp = true;
  EXPECT_EQ(host.Select(udp), (Rows{host.udp_bound, host.udp_connected}));

  SocketFilter raw;
  raw.raw = true;
  EXPECT_EQ(host.Select(raw), (Rows{host.raw}));

  SocketFilter packet;
  packet.packet = true;
  EXPECT_EQ(host.Select(packet), (Rows{host.packet}));

  SocketFilter udp_and_packet;
  udp_and_packet.udp = true;
  udp_and_packet.packet = true;
  EXPECT_EQ(host.Select(udp_and_packet), (Rows{host.udp_bound, host.udp_connected, host.packet}));
}

TEST(SocketFilter, ListeningMeansListenersPlusRawAndPacketSockets) {
  const FilterSnapshot host;
  SocketFilter listening;
  listening.listening = true;
  EXPECT_EQ(host.Select(listening),
            (Rows{host.tcp_listener, host.shared_listener, host.udp_bound, host.raw, host.packet}));

  listening.tcp = true;
  EXPECT_EQ(host.Select(listening), (Rows{host.tcp_listener, host.shared_listener}));
  listening.tcp = false;
  listening.udp = true;
  EXPECT_EQ(host.Select(listening), (Rows{host.udp_bound}));
}

TEST(SocketFilter, NotListeningIsEverySocketListeningLeavesOut) {
  const FilterSnapshot host;
  SocketFilter listening;
  listening.listening = true;
  SocketFilter other;
  other.not_listening = true;
  Rows both = host.Select(listening);
  const Rows rest = host.Select(other);
  EXPECT_FALSE(rest.empty());
  both.insert(both.end(), rest.begin(), rest.end());
  std::sort(both.begin(), both.end());
  Rows all(host.snapshot.sockets.size());
  std::iota(all.begin(), all.end(), size_t{0});
  EXPECT_EQ(both, all) << "listening and not listening must split the sockets in two";
  for (size_t row : {host.inbound, host.outbound, host.time_wait}) {
    EXPECT_NE(std::find(rest.begin(), rest.end(), row), rest.end()) << "row " << row;
  }
  other.listening = true;  // both at once: nothing
  EXPECT_TRUE(host.Select(other).empty());
}

TEST(SocketFilter, PortMatchesLocalOrRemotePort) {
  const FilterSnapshot host;
  SocketFilter filter;
  filter.port = 22;
  EXPECT_EQ(host.Select(filter), (Rows{host.tcp_listener, host.inbound}));
  filter.port = 443;  // only ever a remote port here
  EXPECT_EQ(host.Select(filter), (Rows{host.outbound}));
  filter.port = 80;  // a local listener and the remote end of a TIME_WAIT connection
  EXPECT_EQ(host.Select(filter), (Rows{host.shared_listener, host.time_wait}));
  filter.port = 53;
  EXPECT_EQ(host.Select(filter), (Rows{host.udp_bound, host.udp_connected}));
  filter.port = 8080;
  EXPECT_EQ(host.Select(filter), Rows{});
}

TEST(SocketFilter, PortZeroIsNotTheRemotePortOfEveryListener) {
  const FilterSnapshot host;
  SocketFilter filter;
  filter.port = 0;
  // Listeners have remote port 0 and raw/packet sockets no ports at all: none of them match.
  EXPECT_EQ(host.Select(filter), Rows{});
}

TEST(SocketFilter, PidMatchesAnyOwnerOfASharedSocket) {
  const FilterSnapshot host;
  SocketFilter worker;
  worker.pid = 101;  // the shared listener's primary owner
  EXPECT_EQ(host.Select(worker), (Rows{host.shared_listener, host.outbound}));
  SocketFilter master;
  master.pid = 100;  // its second owner
  EXPECT_EQ(host.Select(master), (Rows{host.shared_listener}));
  SocketFilter nobody;
  nobody.pid = 999;
  EXPECT_EQ(host.Select(nobody), Rows{});
}

TEST(SocketFilter, ProcessMatchesAnyOwnerByExactName) {
  const FilterSnapshot host;
  SocketFilter nginx;
  nginx.process = "nginx";
  EXPECT_EQ(host.Select(nginx), (Rows{host.shared_listener, host.outbound}));
  SocketFilter sshd;
  sshd.process = "sshd";
  EXPECT_EQ(host.Select(sshd), (Rows{host.tcp_listener, host.inbound}));
  SocketFilter prefix;
  prefix.process = "ssh";
  EXPECT_EQ(host.Select(prefix), Rows{});
}

TEST(SocketFilter, PidAndProcessMustHoldForTheSameOwner) {
  const FilterSnapshot host;
  SocketFilter filter;
  filter.pid = 100;
  filter.process = "nginx";
  EXPECT_EQ(host.Select(filter), (Rows{host.shared_listener}));
  filter.process = "sshd";  // pid 100 is not sshd, and sshd is not pid 100
  EXPECT_EQ(host.Select(filter), Rows{});
}

TEST(SocketFilter, OwnerFiltersExcludeSocketsWithoutOwners) {
  const FilterSnapshot host;
  SocketFilter filter;
  filter.port = 80;
  filter.process = "nginx";
  EXPECT_EQ(host.Select(filter), (Rows{host.shared_listener}));  // not the TIME_WAIT socket
}

TEST(SocketFilter, StateMatchesExactly) {
  const FilterSnapshot host;
  SocketFilter listen;
  listen.state = SocketState::kListen;
  EXPECT_EQ(host.Select(listen), (Rows{host.tcp_listener, host.shared_listener}));
  SocketFilter established;
  established.state = SocketState::kEstablished;
  EXPECT_EQ(host.Select(established), (Rows{host.inbound, host.outbound, host.udp_connected}));
  established.tcp = true;
  EXPECT_EQ(host.Select(established), (Rows{host.inbound, host.outbound}));
  SocketFilter time_wait;
  time_wait.state = SocketState::kTimeWait;
  EXPECT_EQ(host.Select(time_wait), (Rows{host.time_wait}));
}

TEST(SocketFilter, RestrictLeavesEveryProtocolWhenNoneIsAskedFor) {
  CollectorOptions options;
  options.owners = false;
  SocketFilter filter;
  filter.listening = true;
  filter.port = 22;
  filter.Restrict(options);
  EXPECT_TRUE(options.tcp);
  EXPECT_TRUE(options.udp);
  EXPECT_TRUE(options.raw);
  EXPECT_TRUE(options.packet);
  EXPECT_FALSE(options.owners);
}

TEST(SocketFilter, RestrictReadsOnlyTheProtocolsAskedFor) {
  CollectorOptions options;
  SocketFilter filter;
  filter.tcp = true;
  filter.packet = true;
  filter.Restrict(options);
  EXPECT_TRUE(options.tcp);
  EXPECT_FALSE(options.udp);
  EXPECT_FALSE(options.raw);
  EXPECT_TRUE(options.packet);
  EXPECT_TRUE(options.owners);

  CollectorOptions udp_only;
  SocketFilter udp;
  udp.udp = true;
  udp.Restrict(udp_only);
  EXPECT_FALSE(udp_only.tcp);
  EXPECT_TRUE(udp_only.udp);
  EXPECT_FALSE(udp_only.raw);
  EXPECT_FALSE(udp_only.packet);
}

}  // namespace
}  // namespace portwatch::collectors
