#include "collectors/linux/proc_net_parser.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace portwatch::collectors::linux {
namespace {

std::string Fixture(const std::string& name) {
  std::ifstream file(std::string(PORTWATCH_FIXTURES) + "/proc/" + name);
  EXPECT_TRUE(file) << name;
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

const Socket* FindByInode(const std::vector<Socket>& sockets, uint64_t inode) {
  for (const Socket& socket : sockets) {
    if (socket.inode == inode) return &socket;
  }
  return nullptr;
}

TEST(ProcNetParser, ReadsRecordedTcpTable) {
  std::vector<Socket> sockets;
  ASSERT_TRUE(ParseProcNetTable(Fixture("net_tcp.txt"), Protocol::kTcp, Family::kIpv4, 7, sockets));
  ASSERT_EQ(sockets.size(), 4u);

  const Socket* listener = FindByInode(sockets, 680423);
  ASSERT_NE(listener, nullptr);
  EXPECT_EQ(listener->state, SocketState::kListen);
  EXPECT_EQ(listener->local.address, *Address::Parse("127.0.0.1"));
  EXPECT_EQ(listener->local.port, 47101);
  EXPECT_EQ(listener->netns, 7u);
  EXPECT_EQ(listener->uid, 0u);

  const Socket* client = FindByInode(sockets, 680425);
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->state, SocketState::kEstablished);
  EXPECT_EQ(client->local.port, 39188);
  EXPECT_EQ(client->remote.port, 47101);
  EXPECT_EQ(client->remote.address, *Address::Parse("127.0.0.1"));

  const Socket* wildcard = FindByInode(sockets, 571);
  ASSERT_NE(wildcard, nullptr);
  EXPECT_TRUE(wildcard->local.address.IsUnspecified());
  EXPECT_EQ(wildcard->local.port, 2024);
}

TEST(ProcNetParser, ReadsIpv6Addresses) {
  std::vector<Socket> sockets;
  ASSERT_TRUE(
      ParseProcNetTable(Fixture("net_tcp6.txt"), Protocol::kTcp, Family::kIpv6, 0, sockets));
  ASSERT_EQ(sockets.size(), 1u);
  EXPECT_EQ(sockets[0].family, Family::kIpv6);
  EXPECT_EQ(sockets[0].local.address, *Address::Parse("::1"));
  EXPECT_EQ(sockets[0].local.port, 47102);
  EXPECT_EQ(sockets[0].inode, 680424u);
}

TEST(ProcNetParser, ReadsUdpAndRawTables) {
  std::vector<Socket> sockets;
  ASSERT_TRUE(ParseProcNetTable(Fixture("net_udp.txt"), Protocol::kUdp, Family::kIpv4, 0, sockets));
  ASSERT_TRUE(ParseProcNetTable(Fixture("net_raw.txt"), Protocol::kRaw, Family::kIpv4, 0, sockets));
  ASSERT_TRUE(
      ParseProcNetTable(Fixture("net_raw6.txt"), Protocol::kRaw, Family::kIpv6, 0, sockets));
  ASSERT_EQ(sockets.size(), 3u);

  const Socket* udp = FindByInode(sockets, 680427);
  ASSERT_NE(udp, nullptr);
  EXPECT_EQ(udp->protocol, Protocol::kUdp);
  EXPECT_EQ(udp->state, SocketState::kClose);
  EXPECT_EQ(udp->local.port, 47103);

  // For raw sockets the port column is the IP protocol; it must not be mistaken for a port.
  const Socket* icmp = FindByInode(sockets, 680428);
  ASSERT_NE(icmp, nullptr);
  EXPECT_EQ(icmp->protocol, Protocol::kRaw);
  EXPECT_EQ(icmp->protocol_number, 1);
  EXPECT_EQ(icmp->local.port, 0);
  const Socket* icmp6 = FindByInode(sockets, 680429);
  ASSERT_NE(icmp6, nullptr);
  EXPECT_EQ(icmp6->protocol_number, 58);
}

TEST(ProcNetParser, MalformedLinesAreErrorsNamingTheLine) {
  const std::string header =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
      "timeout inode\n";
  const std::string good =
      "   0: 0100007F:B7FD 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 "
      "680423 1 0000000000000000 100 0 0 10 0\n";
  const char* bad_lines[] = {
      "   1: 0100007F 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\n",
      "   1: 0100007G:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\n",
      "   1: 0100007F:0016 00000000:0000 ZZ 00000000:00000000 00:00000000 00000000 0 0 1\n",
      "   1: 0100007F:10016 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\n",
      "   1: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000 x 0 1\n",
      "   1: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0\n",
      "   1: 0100007F:0016\n",
      "garbage\n",
  };
  for (const char* bad : bad_lines) {
    std::vector<Socket> sockets;
    Result<void> result =
        ParseProcNetTable(header + good + bad, Protocol::kTcp, Family::kIpv4, 0, sockets);
    ASSERT_FALSE(result.ok()) << bad;
    EXPECT_NE(result.error().message.find("line 3"), std::string::npos) << result.error().message;
    EXPECT_TRUE(sockets.empty()) << "a failed parse must not leave half a table";
  }
}

TEST(ProcNetParser, RejectsWhatIsNotATable) {
  std::vector<Socket> sockets;
  EXPECT_FALSE(ParseProcNetTable("", Protocol::kTcp, Family::kIpv4, 0, sockets).ok());
  EXPECT_FALSE(ParseProcNetTable("hello world\n", Protocol::kTcp, Family::kIpv4, 0, sockets).ok());
  // An IPv4 address in a table parsed as IPv6 has the wrong width.
  EXPECT_FALSE(
      ParseProcNetTable(Fixture("net_tcp.txt"), Protocol::kTcp, Family::kIpv6, 0, sockets).ok());
  EXPECT_TRUE(sockets.empty());
}

TEST(ProcNetParser, EveryTruncationIsAnErrorOrAPrefixNeverACrash) {
  const std::string full = Fixture("net_tcp.txt");
  for (size_t length = 0; length <= full.size(); ++length) {
    std::vector<Socket> sockets;
    Result<void> result =
        ParseProcNetTable(full.substr(0, length), Protocol::kTcp, Family::kIpv4, 0, sockets);
    if (result.ok()) {
      EXPECT_LE(sockets.size(), 4u);
    } else {
      EXPECT_TRUE(sockets.empty());
    }
  }
}

}  // namespace
}  // namespace portwatch::collectors::linux

namespace portwatch::collectors::linux {
namespace {

TEST(EstimateSocketCount, AddsEveryFamilysCountsFromSockstat) {
  const char* sockstat =
      "sockets: used 1234\n"
      "TCP: inuse 90 orphan 2 tw 30 alloc 100 mem 5\n"
      "UDP: inuse 7 mem 1\n"
      "UDPLITE: inuse 0\n"
      "RAW: inuse 2\n"
      "FRAG: inuse 0 memory 0\n";
  const char* sockstat6 =
      "TCP6: inuse 10\n"
      "UDP6: inuse 4\n"
      "UDPLITE6: inuse 0\n"
      "RAW6: inuse 1\n"
      "FRAG6: inuse 0 memory 0\n";
  // TCP alloc (both families) + TIME_WAIT + UDP + RAW + UDP6 + RAW6.
  EXPECT_EQ(EstimateSocketCount(sockstat, sockstat6), 100u + 30 + 7 + 2 + 4 + 1);
}

TEST(EstimateSocketCount, MissingOrGarbledFilesCountAsZero) {
  EXPECT_EQ(EstimateSocketCount("", ""), 0u);
  EXPECT_EQ(EstimateSocketCount("TCP: inuse x alloc y\nUDP:\n", "garbage"), 0u);
}

}  // namespace
}  // namespace portwatch::collectors::linux

namespace portwatch::collectors::linux {
namespace {

// The counters that move in a SYN flood, with syncookies on or off, from a TcpExt pair of lines
// as the kernel writes them (names, then values, in one order that varies between kernels).
TEST(ParseHostNetwork, ReadsTheListenAndSynQueueCountersOfTcpExt) {
  const std::string netstat =
      "TcpExt: SyncookiesSent SyncookiesRecv ListenOverflows ListenDrops TCPReqQFullDoCookies "
      "TCPReqQFullDrop\n"
      "TcpExt: 1872 3 0 12 1870 2\n"
      "IpExt: InNoRoutes\n"
      "IpExt: 0\n";
  HostNetwork host;
  ParseHostNetwork(netstat, "32768\t60999\n", "1024\n", host);
  EXPECT_EQ(host.syncookies_sent, 1872u);
  EXPECT_EQ(host.listen_overflows, 0u);
  EXPECT_EQ(host.listen_drops, 12u);
  EXPECT_EQ(host.req_queue_full_cookies, 1870u);
  EXPECT_EQ(host.req_queue_full_drops, 2u);
}

TEST(ParseHostNetwork, ACounterTheKernelDoesNotHaveStaysUnknown) {
  HostNetwork host;
  ParseHostNetwork("TcpExt: ListenOverflows ListenDrops\nTcpExt: 1 2\n", "", "", host);
  EXPECT_EQ(host.listen_overflows, 1u);
  EXPECT_EQ(host.syncookies_sent, std::nullopt);
  EXPECT_EQ(host.req_queue_full_drops, std::nullopt);
}

}  // namespace
}  // namespace portwatch::collectors::linux
