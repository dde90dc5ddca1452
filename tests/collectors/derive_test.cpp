#include "collectors/derive.h"

#include <gtest/gtest.h>

#include "tests/support/snapshot_builder.h"

namespace portwatch::collectors {
namespace {

using portwatch::testing::Packet;
using portwatch::testing::Tcp;
using portwatch::testing::Udp;

const Socket& Derived(Snapshot& snapshot, size_t index) {
  DeriveFields(snapshot);
  return snapshot.sockets[index];
}

TEST(DeriveFields, ListenerIsListenWithItsExposureAndCategory) {
  Snapshot snapshot;
  snapshot.sockets.push_back(Tcp(1, "0.0.0.0", 22, "0.0.0.0", 0, SocketState::kListen));
  const Socket& socket = Derived(snapshot, 0);
  EXPECT_EQ(socket.direction, Direction::kListen);
  EXPECT_EQ(socket.exposure, Exposure::kAll);
  EXPECT_EQ(socket.port_category, PortCategory::kWellKnown);
  EXPECT_EQ(socket.service_port, 22);
  EXPECT_EQ(socket.remote_class, AddressClass::kNone);
}

TEST(DeriveFields, ConnectionToOurListenerIsInbound) {
  Snapshot snapshot;
  snapshot.sockets.push_back(Tcp(1, "0.0.0.0", 22, "0.0.0.0", 0, SocketState::kListen));
  snapshot.sockets.push_back(
      Tcp(2, "192.0.2.1", 22, "203.0.113.7", 51000, SocketState::kEstablished));
  const Socket& socket = Derived(snapshot, 1);
  EXPECT_EQ(socket.direction, Direction::kInbound);
  EXPECT_EQ(socket.service_port, 22);
  EXPECT_EQ(socket.remote_class, AddressClass::kPublic);
  EXPECT_EQ(socket.exposure, Exposure::kAddress);
}

TEST(DeriveFields, ConnectionFromAnEphemeralPortIsOutbound) {
  Snapshot snapshot;
  snapshot.sockets.push_back(
      Tcp(1, "192.0.2.1", 51000, "198.51.100.4", 443, SocketState::kEstablished));
  const Socket& socket = Derived(snapshot, 0);
  EXPECT_EQ(socket.direction, Direction::kOutbound);
  EXPECT_EQ(socket.service_port, 443);
  EXPECT_EQ(socket.port_category, PortCategory::kDynamic);
}

TEST(DeriveFields, ListenerOnAnotherAddressDoesNotMakeItInbound) {
  Snapshot snapshot;
  snapshot.sockets.push_back(Tcp(1, "127.0.0.1", 8080, "0.0.0.0", 0, SocketState::kListen));
  snapshot.sockets.push_back(
      Tcp(2, "192.0.2.1", 8080, "198.51.100.4", 80, SocketState::kEstablished));
  EXPECT_EQ(Derived(snapshot, 1).direction, Direction::kOutbound);
}

TEST(DeriveFields, DualStackListenerAcceptsIpv4ButV6OnlyDoesNot) {
  Snapshot dual;
  dual.sockets.push_back(Tcp(1, "::", 443, "::", 0, SocketState::kListen));
  dual.sockets.push_back(Tcp(2, "192.0.2.1", 443, "203.0.113.9", 40000, SocketState::kEstablished));
  EXPECT_EQ(Derived(dual, 1).direction, Direction::kInbound);

  Snapshot v6only;
  v6only.sockets.push_back(Tcp(3, "::", 443, "::", 0, SocketState::kListen));
  v6only.sockets[0].v6only = true;
  v6only.sockets.push_back(
      Tcp(4, "192.0.2.1", 443, "203.0.113.9", 40000, SocketState::kEstablished));
  EXPECT_EQ(Derived(v6only, 1).direction, Direction::kOutbound);
}

TEST(DeriveFields, LoopbackAndSelfConnectionsAreLocal) {
  Snapshot snapshot;
  snapshot.sockets.push_back(Tcp(1, "127.0.0.1", 5432, "0.0.0.0", 0, SocketState::kListen));
  snapshot.sockets.push_back(
      Tcp(2, "127.0.0.1", 40000, "127.0.0.1", 5432, SocketState::kEstablished));
  snapshot.sockets.push_back(
      Tcp(3, "127.0.0.1", 5432, "127.0.0.1", 40000, SocketState::kEstablished));
  // Both ends of a connection to our own non-loopback address.
  snapshot.sockets.push_back(
      Tcp(4, "192.0.2.1", 41000, "192.0.2.1", 9000, SocketState::kEstablished));
  snapshot.sockets.push_back(
      Tcp(5, "192.0.2.1", 9000, "192.0.2.1", 41000, SocketState::kEstablished));
  DeriveFields(snapshot);
  for (size_t i = 1; i < snapshot.sockets.size(); ++i) {
    EXPECT_EQ(snapshot.sockets[i].direction, Direction::kLocal) << i;
  }
  // The service of a local connection is the end with the listener, seen from either side.
  EXPECT_EQ(snapshot.sockets[1].service_port, 5432);
  EXPECT_EQ(snapshot.sockets[2].service_port, 5432);
}

TEST(DeriveFields, BoundUnconnectedUdpIsAListenerButAnUnboundOneIsNot) {
  Snapshot snapshot;
  const Socket bound = Udp(1, "0.0.0.0", 53);
  Socket unbound = bound;
  unbound.local.port = 0;
  snapshot.sockets = {bound, unbound};
  DeriveFields(snapshot);
  EXPECT_EQ(snapshot.sockets[0].direction, Direction::kListen);
  EXPECT_EQ(snapshot.sockets[1].direction, Direction::kNone);
}

TEST(DeriveFields, PacketSocketsHaveNoExposureOrDirection) {
  Snapshot snapshot;
  snapshot.sockets.push_back(Packet(1));
  const Socket& socket = Derived(snapshot, 0);
  EXPECT_EQ(socket.exposure, Exposure::kNone);
  EXPECT_EQ(socket.direction, Direction::kNone);
}

}  // namespace
}  // namespace portwatch::collectors
