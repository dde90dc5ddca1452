#include "collectors/linux/sock_diag_parser.h"

#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/if_ether.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/packet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

namespace portwatch::collectors::linux {
namespace {

// The sockets that tests/fixtures/netlink/record_fixtures.py held while recording; the values are
// what each socket reported about itself (fstat, SO_COOKIE), listed in the fixtures' README.
constexpr uint64_t kTcp4ListenerInode = 1335435;
constexpr uint64_t kTcp4ListenerCookie = 529591;
constexpr uint64_t kTcp4ClientInode = 1335436;  // 127.0.0.1:47010 -> 127.0.0.1:47001
constexpr uint64_t kTcp4ClientCookie = 529592;
constexpr uint64_t kTcp4AcceptedInode = 1335437;  // 127.0.0.1:47001 <- 127.0.0.1:47010
constexpr uint64_t kTcp4AcceptedCookie = 529593;
constexpr uint64_t kTcp4MappedClientInode = 1335440;  // 127.0.0.1:47011 -> 127.0.0.1:47003
constexpr uint64_t kTcp6V6OnlyListenerInode = 1335438;
constexpr uint64_t kTcp6V6OnlyListenerCookie = 529594;
constexpr uint64_t kTcp6DualStackListenerInode = 1335439;
constexpr uint64_t kTcp6DualStackListenerCookie = 529595;
constexpr uint64_t kTcp6MappedAcceptedInode = 1335441;
constexpr uint64_t kTcp6MappedAcceptedCookie = 529597;
constexpr uint64_t kUdp4BoundInode = 1335442;
constexpr uint64_t kUdp4BoundCookie = 529598;
constexpr uint32_t kUdp4BoundUid = 65534;
constexpr uint64_t kUdp4ConnectedInode = 1335443;
constexpr uint64_t kUdp4ConnectedCookie = 529599;
constexpr uint64_t kUdp6Inode = 1335444;
constexpr uint64_t kUdp6Cookie = 529600;
constexpr uint64_t kPacketAllInode = 1335445;
constexpr uint64_t kPacketAllCookie = 529601;
constexpr uint64_t kPacketIpOnLoInode = 1335446;
constexpr uint64_t kPacketIpOnLoCookie = 529602;
constexpr uint32_t kLoopbackInterface = 1;

constexpr uint64_t kNetns = 4026531840;  // stamped by the caller, not read from the reply

using Datagram = std::vector<uint8_t>;

struct Fixture {
  const char* file;
  DiagRecordKind record_kind;
  Protocol protocol;
  size_t socket_count;
};

constexpr Fixture kFixtures[] = {
    {"tcp4.bin", DiagRecordKind::kInet, Protocol::kTcp, 4},
    {"tcp6.bin", DiagRecordKind::kInet, Protocol::kTcp, 3},
    {"udp4.bin", DiagRecordKind::kInet, Protocol::kUdp, 2},
    {"udp6.bin", DiagRecordKind::kInet, Protocol::kUdp, 1},
    {"packet.bin", DiagRecordKind::kPacket, Protocol::kPacket, 2},
};

const Fixture& FixtureNamed(const std::string& file) {
  return *std::find_if(std::begin(kFixtures), std::end(kFixtures),
                       [&](const Fixture& fixture) { return file == fixture.file; });
}

// Reads a file written by record_sock_diag: per datagram, a little-endian uint32 length and the
// datagram's bytes.
std::vector<Datagram> LoadDatagrams(const std::string& file) {
  std::ifstream stream(std::string(PORTWATCH_FIXTURES) + "/netlink/" + file, std::ios::binary);
  EXPECT_TRUE(stream) << file;
  const std::string bytes((std::istreambuf_iterator<char>(stream)),
                          std::istreambuf_iterator<char>());
  std::vector<Datagram> datagrams;
  size_t offset = 0;
  while (bytes.size() - offset >= 4) {
    uint32_t length = 0;
    for (size_t i = 4; i-- > 0;) length = length << 8 | static_cast<uint8_t>(bytes[offset + i]);
    offset += 4;
    if (length > bytes.size() - offset) break;
    datagrams.emplace_back(bytes.begin() + static_cast<long>(offset),
                           bytes.begin() + static_cast<long>(offset + length));
    offset += length;
  }
  EXPECT_EQ(offset, bytes.size()) << file << ": the last frame is cut short";
  EXPECT_FALSE(datagrams.empty()) << file;
  return datagrams;
}

// A heap copy of exactly the given bytes, so that ASan reports a read one byte past the end.
// operator new aligns it for any fundamental type, as a receive buffer would be.
class ExactCopy {
 public:
  explicit ExactCopy(std::span<const uint8_t> bytes)
      : size_(bytes.size()), data_(new uint8_t[bytes.size()]) {
    std::copy(bytes.begin(), bytes.end(), data_.get());
  }
  std::span<const uint8_t> bytes() const { return {data_.get(), size_}; }

 private:
  size_t size_;
  std::unique_ptr<uint8_t[]> data_;
};
static_assert(__STDCPP_DEFAULT_NEW_ALIGNMENT__ >= alignof(nlmsghdr));

nlmsghdr HeaderAt(const Datagram& datagram, size_t offset) {
  nlmsghdr header{};
  std::memcpy(&header, datagram.data() + offset, sizeof(header));
  return header;
}

void SetHeaderAt(Datagram& datagram, size_t offset, const nlmsghdr& header) {
  std::memcpy(datagram.data() + offset, &header, sizeof(header));
}

// Where each message of a well-formed datagram starts, found by walking nlmsg_len.
std::vector<size_t> MessageOffsets(const Datagram& datagram) {
  std::vector<size_t> offsets;
  for (size_t offset = 0; offset < datagram.size();
       offset += NLMSG_ALIGN(HeaderAt(datagram, offset).nlmsg_len)) {
    offsets.push_back(offset);
  }
  return offsets;
}

DatagramContext ContextFor(const Fixture& fixture, const std::vector<Datagram>& datagrams) {
  DatagramContext context;
  context.record_kind = fixture.record_kind;
  context.protocol = fixture.protocol;
  context.sequence = HeaderAt(datagrams.front(), 0).nlmsg_seq;
  context.netns = kNetns;
  return context;
}

DatagramStatus Parse(std::span<const uint8_t> bytes, const DatagramContext& context,
                     std::vector<Socket>& out) {
  const ExactCopy copy(bytes);
  return ParseDiagDatagram(copy.bytes(), context, out);
}

// Decodes every datagram of a fixture, expecting each to decode cleanly.
std::vector<Socket> DecodeFixture(const std::string& file) {
  const Fixture& fixture = FixtureNamed(file);
  const std::vector<Datagram> datagrams = LoadDatagrams(file);
  const DatagramContext context = ContextFor(fixture, datagrams);
  std::vector<Socket> sockets;
  for (const Datagram& datagram : datagrams) {
    const DatagramStatus status = Parse(datagram, context, sockets);
    EXPECT_NE(status.kind, DatagramStatus::Kind::kMalformed) << file << ": " << status.detail;
    EXPECT_NE(status.kind, DatagramStatus::Kind::kKernelError) << file;
  }
  return sockets;
}

const Socket* FindByInode(const std::vector<Socket>& sockets, uint64_t inode) {
  for (const Socket& socket : sockets) {
    if (socket.inode == inode) return &socket;
  }
  return nullptr;
}

Endpoint At(const char* address, uint16_t port) { return {*Address::Parse(address), port}; }

TEST(SockDiagParser, DecodesRecordedTcpListeners) {
  const std::vector<Socket> tcp4 = DecodeFixture("tcp4.bin");
  const Socket* listener = FindByInode(tcp4, kTcp4ListenerInode);
  ASSERT_NE(listener, nullptr);
  EXPECT_EQ(listener->protocol, Protocol::kTcp);
  EXPECT_EQ(listener->family, Family::kIpv4);
  EXPECT_EQ(listener->state, SocketState::kListen);
  EXPECT_EQ(listener->local, At("127.0.0.1", 47001));
  EXPECT_EQ(listener->remote, At("0.0.0.0", 0));
  EXPECT_EQ(listener->cookie, kTcp4ListenerCookie);
  EXPECT_EQ(listener->uid, 0u);
  EXPECT_EQ(listener->netns, kNetns);
  EXPECT_FALSE(listener->v6only);
  EXPECT_EQ(listener->protocol_number, 0);

  const std::vector<Socket> tcp6 = DecodeFixture("tcp6.bin");
  const Socket* v6only = FindByInode(tcp6, kTcp6V6OnlyListenerInode);
  const Socket* dual = FindByInode(tcp6, kTcp6DualStackListenerInode);
  ASSERT_NE(v6only, nullptr);
  ASSERT_NE(dual, nullptr);
  for (const Socket* socket : {v6only, dual}) {
    EXPECT_EQ(socket->protocol, Protocol::kTcp);
    EXPECT_EQ(socket->family, Family::kIpv6);
    EXPECT_EQ(socket->state, SocketState::kListen);
    EXPECT_EQ(socket->remote, At("::", 0));
    EXPECT_EQ(socket->netns, kNetns);
  }
  EXPECT_EQ(v6only->local, At("::", 47002));
  EXPECT_TRUE(v6only->v6only);
  EXPECT_EQ(v6only->cookie, kTcp6V6OnlyListenerCookie);
  EXPECT_EQ(dual->local, At("::", 47003));
  EXPECT_FALSE(dual->v6only);
  EXPECT_EQ(dual->cookie, kTcp6DualStackListenerCookie);
}

TEST(SockDiagParser, DecodesRecordedTcpConnections) {
  const std::vector<Socket> tcp4 = DecodeFixture("tcp4.bin");
  const Socket* client = FindByInode(tcp4, kTcp4ClientInode);
  const Socket* accepted = FindByInode(tcp4, kTcp4AcceptedInode);
  const Socket* mapped_client = FindByInode(tcp4, kTcp4MappedClientInode);
  ASSERT_NE(client, nullptr);
  ASSERT_NE(accepted, nullptr);
  ASSERT_NE(mapped_client, nullptr);
  EXPECT_EQ(client->state, SocketState::kEstablished);
  EXPECT_EQ(client->local, At("127.0.0.1", 47010));
  EXPECT_EQ(client->remote, At("127.0.0.1", 47001));
  EXPECT_EQ(client->cookie, kTcp4ClientCookie);
  EXPECT_EQ(accepted->state, SocketState::kEstablished);
  EXPECT_EQ(accepted->local, At("127.0.0.1", 47001));
  EXPECT_EQ(accepted->remote, At("127.0.0.1", 47010));
  EXPECT_EQ(accepted->cookie, kTcp4AcceptedCookie);
  EXPECT_EQ(mapped_client->local, At("127.0.0.1", 47011));
  EXPECT_EQ(mapped_client->remote, At("127.0.0.1", 47003));

  // An IPv4 client accepted by the dual-stack listener is an IPv6 socket with mapped addresses.
  const std::vector<Socket> tcp6 = DecodeFixture("tcp6.bin");
  const Socket* mapped = FindByInode(tcp6, kTcp6MappedAcceptedInode);
  ASSERT_NE(mapped, nullptr);
  EXPECT_EQ(mapped->family, Family::kIpv6);
  EXPECT_EQ(mapped->state, SocketState::kEstablished);
  EXPECT_EQ(mapped->local, At("::ffff:127.0.0.1", 47003));
  EXPECT_EQ(mapped->remote, At("::ffff:127.0.0.1", 47011));
  EXPECT_EQ(mapped->cookie, kTcp6MappedAcceptedCookie);
  EXPECT_FALSE(mapped->v6only);
}

TEST(SockDiagParser, DecodesRecordedUdpSockets) {
  const std::vector<Socket> udp4 = DecodeFixture("udp4.bin");
  const Socket* bound = FindByInode(udp4, kUdp4BoundInode);
  const Socket* connected = FindByInode(udp4, kUdp4ConnectedInode);
  ASSERT_NE(bound, nullptr);
  ASSERT_NE(connected, nullptr);
  EXPECT_EQ(bound->protocol, Protocol::kUdp);
  EXPECT_EQ(bound->family, Family::kIpv4);
  EXPECT_EQ(bound->state, SocketState::kClose);
  EXPECT_EQ(bound->local, At("0.0.0.0", 47004));
  EXPECT_EQ(bound->uid, kUdp4BoundUid);
  EXPECT_EQ(bound->cookie, kUdp4BoundCookie);
  EXPECT_EQ(connected->protocol, Protocol::kUdp);
  EXPECT_EQ(connected->state, SocketState::kEstablished);
  EXPECT_EQ(connected->local, At("127.0.0.1", 47005));
  EXPECT_EQ(connected->remote, At("127.0.0.1", 47004));
  EXPECT_EQ(connected->uid, 0u);
  EXPECT_EQ(connected->cookie, kUdp4ConnectedCookie);

  const std::vector<Socket> udp6 = DecodeFixture("udp6.bin");
  const Socket* bound6 = FindByInode(udp6, kUdp6Inode);
  ASSERT_NE(bound6, nullptr);
  EXPECT_EQ(bound6->protocol, Protocol::kUdp);
  EXPECT_EQ(bound6->family, Family::kIpv6);
  EXPECT_EQ(bound6->state, SocketState::kClose);
  EXPECT_EQ(bound6->local, At("::1", 47006));
  EXPECT_TRUE(bound6->v6only);  // binding a specific IPv6 address sets it
  EXPECT_EQ(bound6->cookie, kUdp6Cookie);
}

TEST(SockDiagParser, DecodesRecordedPacketSockets) {
  const std::vector<Socket> packet = DecodeFixture("packet.bin");
  const Socket* all = FindByInode(packet, kPacketAllInode);
  const Socket* ip_on_lo = FindByInode(packet, kPacketIpOnLoInode);
  ASSERT_NE(all, nullptr);
  ASSERT_NE(ip_on_lo, nullptr);
  for (const Socket* socket : {all, ip_on_lo}) {
    EXPECT_EQ(socket->protocol, Protocol::kPacket);
    EXPECT_EQ(socket->family, Family::kUnspec);
    EXPECT_EQ(socket->uid, 0u);
    EXPECT_EQ(socket->netns, kNetns);
    EXPECT_FALSE(socket->HasPorts());
  }
  EXPECT_EQ(all->protocol_number, ETH_P_ALL);
  EXPECT_EQ(all->interface, 0u);
  EXPECT_EQ(all->cookie, kPacketAllCookie);
  EXPECT_EQ(ip_on_lo->protocol_number, ETH_P_IP);
  EXPECT_EQ(ip_on_lo->interface, kLoopbackInterface);
  EXPECT_EQ(ip_on_lo->cookie, kPacketIpOnLoCookie);
}

TEST(SockDiagParser, RecordedDumpsContinueUntilTheLastDatagramSaysDone) {
  for (const Fixture& fixture : kFixtures) {
    SCOPED_TRACE(fixture.file);
    const std::vector<Datagram> datagrams = LoadDatagrams(fixture.file);
    ASSERT_GE(datagrams.size(), 2u);
    const DatagramContext context = ContextFor(fixture, datagrams);
    std::vector<Socket> sockets;
    for (size_t i = 0; i < datagrams.size(); ++i) {
      const size_t before = sockets.size();
      const DatagramStatus status = Parse(datagrams[i], context, sockets);
      const bool last = i + 1 == datagrams.size();
      EXPECT_EQ(status.kind, last ? DatagramStatus::Kind::kDone : DatagramStatus::Kind::kMore)
          << "datagram " << i << ": " << status.detail;
      EXPECT_FALSE(status.interrupted);
      if (last) {
        EXPECT_EQ(sockets.size(), before) << "NLMSG_DONE carries no socket";
      }
    }
    EXPECT_EQ(sockets.size(), fixture.socket_count);
    for (const Socket& socket : sockets) {
      EXPECT_NE(socket.inode, 0u);
      EXPECT_NE(socket.cookie, 0u);
    }
  }
}

TEST(SockDiagParser, RejectsRecordsOfAnotherKind) {
  // Packet records are shorter than inet_diag_msg; inet records do not start with AF_PACKET.
  for (const auto& [file, wrong_kind] : {std::pair{"packet.bin", DiagRecordKind::kInet},
                                         std::pair{"tcp4.bin", DiagRecordKind::kPacket}}) {
    SCOPED_TRACE(file);
    const std::vector<Datagram> datagrams = LoadDatagrams(file);
    DatagramContext context = ContextFor(FixtureNamed(file), datagrams);
    context.record_kind = wrong_kind;
    std::vector<Socket> sockets;
    EXPECT_EQ(Parse(datagrams.front(), context, sockets).kind, DatagramStatus::Kind::kMalformed);
    EXPECT_TRUE(sockets.empty());
  }
}

TEST(SockDiagParser, SurvivesEveryTruncationOfARecordedDatagram) {
  for (const Fixture& fixture : kFixtures) {
    const std::vector<Datagram> datagrams = LoadDatagrams(fixture.file);
    const DatagramContext context = ContextFor(fixture, datagrams);
    for (size_t d = 0; d < datagrams.size(); ++d) {
      const Datagram& datagram = datagrams[d];
      // A cut exactly after a message leaves a shorter, valid datagram; any other cut leaves
      // part of a message.
      std::vector<size_t> boundaries = MessageOffsets(datagram);
      boundaries.push_back(datagram.size());
      for (size_t length = 0; length <= datagram.size(); ++length) {
        std::vector<Socket> sockets;
        const DatagramStatus status = Parse(std::span(datagram).first(length), context, sockets);
        const auto boundary = std::find(boundaries.begin(), boundaries.end(), length);
        if (boundary == boundaries.end()) {
          EXPECT_EQ(status.kind, DatagramStatus::Kind::kMalformed)
              << fixture.file << " datagram " << d << " cut to " << length << " bytes";
          continue;
        }
        const size_t whole_messages = static_cast<size_t>(boundary - boundaries.begin());
        const bool has_done =
            whole_messages > 0 &&
            HeaderAt(datagram, boundaries[whole_messages - 1]).nlmsg_type == NLMSG_DONE;
        EXPECT_EQ(status.kind, has_done ? DatagramStatus::Kind::kDone : DatagramStatus::Kind::kMore)
            << fixture.file << " datagram " << d << " cut to " << length << " bytes";
        EXPECT_EQ(sockets.size(), has_done ? 0 : whole_messages)
            << fixture.file << " datagram " << d << " cut to " << length << " bytes";
      }
    }
  }
}

TEST(SockDiagParser, SurvivesEveryTruncationInsideARecord) {
  // The message claims exactly the bytes it has, so the cut lands in its fixed header or its
  // attributes rather than in the netlink framing.
  for (const Fixture& fixture : kFixtures) {
    const std::vector<Datagram> datagrams = LoadDatagrams(fixture.file);
    const DatagramContext context = ContextFor(fixture, datagrams);
    const size_t fixed_size = fixture.record_kind == DiagRecordKind::kInet
                                  ? sizeof(inet_diag_msg)
                                  : sizeof(packet_diag_msg);
    for (size_t offset : MessageOffsets(datagrams.front())) {
      const nlmsghdr original = HeaderAt(datagrams.front(), offset);
      ASSERT_EQ(original.nlmsg_type, SOCK_DIAG_BY_FAMILY);
      std::vector<Socket> whole;
      ASSERT_EQ(
          Parse(std::span(datagrams.front()).subspan(offset, original.nlmsg_len), context, whole)
              .kind,
          DatagramStatus::Kind::kMore);
      ASSERT_EQ(whole.size(), 1u);

      for (size_t length = sizeof(nlmsghdr); length <= original.nlmsg_len; ++length) {
        Datagram message(datagrams.front().begin() + static_cast<long>(offset),
                         datagrams.front().begin() + static_cast<long>(offset + length));
        nlmsghdr header = original;
        header.nlmsg_len = static_cast<uint32_t>(length);
        SetHeaderAt(message, 0, header);
        std::vector<Socket> sockets;
        const DatagramStatus status = Parse(message, context, sockets);
        const std::string where = std::string(fixture.file) + " record at " +
                                  std::to_string(offset) + " cut to " + std::to_string(length);
        if (length < sizeof(nlmsghdr) + fixed_size) {
          EXPECT_EQ(status.kind, DatagramStatus::Kind::kMalformed) << where;
        } else if (status.kind == DatagramStatus::Kind::kMore) {
          ASSERT_EQ(sockets.size(), 1u) << where;
          EXPECT_EQ(sockets[0].inode, whole[0].inode) << where;
          EXPECT_EQ(sockets[0].cookie, whole[0].cookie) << where;
        } else {
          EXPECT_EQ(status.kind, DatagramStatus::Kind::kMalformed) << where;
        }
      }
    }
  }
}

TEST(SockDiagParser, RejectsMessageLengthsThatDoNotFit) {
  const std::vector<Datagram> datagrams = LoadDatagrams("tcp4.bin");
  const DatagramContext context = ContextFor(FixtureNamed("tcp4.bin"), datagrams);
  const Datagram& original = datagrams.front();
  const uint32_t too_long = static_cast<uint32_t>(original.size()) + 4;
  for (uint32_t length :
       {0u, 1u, static_cast<uint32_t>(sizeof(nlmsghdr)) - 1, too_long, 0xffffffffu}) {
    Datagram corrupted = original;
    nlmsghdr header = HeaderAt(corrupted, 0);
    header.nlmsg_len = length;
    SetHeaderAt(corrupted, 0, header);
    std::vector<Socket> sockets;
    const DatagramStatus status = Parse(corrupted, context, sockets);
    EXPECT_EQ(status.kind, DatagramStatus::Kind::kMalformed) << "nlmsg_len " << length;
    EXPECT_FALSE(status.detail.empty());
    EXPECT_TRUE(sockets.empty()) << "nlmsg_len " << length;
  }
}

TEST(SockDiagParser, RejectsAReplyToAnotherRequest) {
  const std::vector<Datagram> datagrams = LoadDatagrams("tcp4.bin");
  DatagramContext context = ContextFor(FixtureNamed("tcp4.bin"), datagrams);
  context.sequence += 1;
  for (const Datagram& datagram : datagrams) {
    std::vector<Socket> sockets;
    EXPECT_EQ(Parse(datagram, context, sockets).kind, DatagramStatus::Kind::kMalformed);
    EXPECT_TRUE(sockets.empty());
  }
}

TEST(SockDiagParser, ReportsAnInterruptedDumpAndKeepsItsRecords) {
  std::vector<Datagram> datagrams = LoadDatagrams("tcp4.bin");
  const DatagramContext context = ContextFor(FixtureNamed("tcp4.bin"), datagrams);
  for (Datagram& datagram : datagrams) {
    const std::vector<size_t> offsets = MessageOffsets(datagram);
    nlmsghdr header = HeaderAt(datagram, offsets.back());
    header.nlmsg_flags |= NLM_F_DUMP_INTR;
    SetHeaderAt(datagram, offsets.back(), header);
  }

  std::vector<Socket> sockets;
  const DatagramStatus records = Parse(datagrams.front(), context, sockets);
  EXPECT_EQ(records.kind, DatagramStatus::Kind::kMore);
  EXPECT_TRUE(records.interrupted);
  EXPECT_EQ(sockets.size(), 4u);
  EXPECT_NE(FindByInode(sockets, kTcp4ListenerInode), nullptr);
  EXPECT_NE(FindByInode(sockets, kTcp4ClientInode), nullptr);

  const DatagramStatus done = Parse(datagrams.back(), context, sockets);
  EXPECT_EQ(done.kind, DatagramStatus::Kind::kDone);
  EXPECT_TRUE(done.interrupted);
}

// Builds netlink messages back to back in an aligned buffer, as the kernel would send them.
class MessageBuffer {
 public:
  nlmsghdr* Add(uint16_t type, uint32_t sequence, uint16_t flags = NLM_F_MULTI) {
    nlmsghdr* header = mnl_nlmsg_put_header(reinterpret_cast<uint8_t*>(storage_.data()) + End());
    header->nlmsg_type = type;
    header->nlmsg_flags = flags;
    header->nlmsg_seq = sequence;
    last_ = header;
    return header;
  }
  std::span<const uint8_t> bytes() const {
    return {reinterpret_cast<const uint8_t*>(storage_.data()), End()};
  }

 private:
  size_t End() const {
    if (last_ == nullptr) return 0;
    return static_cast<size_t>(reinterpret_cast<const uint8_t*>(last_) -
                               reinterpret_cast<const uint8_t*>(storage_.data())) +
           MNL_ALIGN(last_->nlmsg_len);
  }

  std::vector<uint32_t> storage_ = std::vector<uint32_t>(1024);  // 4 KiB, aligned for nlmsghdr
  nlmsghdr* last_ = nullptr;
};

constexpr uint32_t kSequence = 77;
constexpr uint64_t kSyntheticInode = 4242;

DatagramContext InetContext() {
  DatagramContext context;
  context.record_kind = DiagRecordKind::kInet;
  context.protocol = Protocol::kTcp;
  context.sequence = kSequence;
  context.netns = kNetns;
  return context;
}

// An IPv6 TCP listener on port 47002 with an INET_DIAG_SKV6ONLY attribute of 1; returns the
// attribute so that tests can corrupt it.
nlattr* AddV6OnlyListener(MessageBuffer& buffer) {
  nlmsghdr* header = buffer.Add(SOCK_DIAG_BY_FAMILY, kSequence);
  auto* message =
      static_cast<inet_diag_msg*>(mnl_nlmsg_put_extra_header(header, sizeof(inet_diag_msg)));
  message->idiag_family = AF_INET6;
  message->idiag_state = static_cast<uint8_t>(SocketState::kListen);
  message->id.idiag_sport = htons(47002);
  message->idiag_inode = kSyntheticInode;
  auto* attribute = static_cast<nlattr*>(mnl_nlmsg_get_payload_tail(header));
  mnl_attr_put_u8(header, INET_DIAG_SKV6ONLY, 1);
  return attribute;
}

TEST(SockDiagParser, DecodesASyntheticRecord) {
  // The control for the corruption tests below: unmodified, the record decodes.
  MessageBuffer buffer;
  AddV6OnlyListener(buffer);
  std::vector<Socket> sockets;
  const DatagramStatus status = Parse(buffer.bytes(), InetContext(), sockets);
  ASSERT_EQ(status.kind, DatagramStatus::Kind::kMore) << status.detail;
  ASSERT_EQ(sockets.size(), 1u);
  EXPECT_EQ(sockets[0].inode, kSyntheticInode);
  EXPECT_EQ(sockets[0].local, At("::", 47002));
  EXPECT_EQ(sockets[0].state, SocketState::kListen);
  EXPECT_TRUE(sockets[0].v6only);
}

TEST(SockDiagParser, RejectsAnAttributeRunningPastItsMessage) {
  for (uint16_t length : {uint16_t{9}, uint16_t{64}, uint16_t{0xffff}}) {
    MessageBuffer buffer;
    nlattr* attribute = AddV6OnlyListener(buffer);
    attribute->nla_len = length;
    std::vector<Socket> sockets;
    const DatagramStatus status = Parse(buffer.bytes(), InetContext(), sockets);
    EXPECT_EQ(status.kind, DatagramStatus::Kind::kMalformed) << "nla_len " << length;
    EXPECT_TRUE(sockets.empty()) << "nla_len " << length;
  }
}

TEST(SockDiagParser, RejectsAnAttributeShorterThanItsHeader) {
  // nla_len 0 would never advance: it must be rejected, not looped on.
  for (uint16_t length : {uint16_t{0}, uint16_t{1}, uint16_t{3}}) {
    MessageBuffer buffer;
    nlattr* attribute = AddV6OnlyListener(buffer);
    attribute->nla_len = length;
    std::vector<Socket> sockets;
    EXPECT_EQ(Parse(buffer.bytes(), InetContext(), sockets).kind, DatagramStatus::Kind::kMalformed)
        << "nla_len " << length;
  }
}

TEST(SockDiagParser, RejectsAnUnknownMessageType) {
  MessageBuffer buffer;
  buffer.Add(NLMSG_MIN_TYPE + 1, kSequence);
  std::vector<Socket> sockets;
  const DatagramStatus status = Parse(buffer.bytes(), InetContext(), sockets);
  EXPECT_EQ(status.kind, DatagramStatus::Kind::kMalformed);
  EXPECT_NE(status.detail.find(std::to_string(NLMSG_MIN_TYPE + 1)), std::string::npos)
      << status.detail;
}

TEST(SockDiagParser, ReportsTheKernelsError) {
  MessageBuffer buffer;
  nlmsghdr* header = buffer.Add(NLMSG_ERROR, kSequence, 0);
  auto* error = static_cast<nlmsgerr*>(mnl_nlmsg_put_extra_header(header, sizeof(nlmsgerr)));
  error->error = -ENOENT;
  error->msg.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  error->msg.nlmsg_seq = kSequence;
  std::vector<Socket> sockets;
  const DatagramStatus status = Parse(buffer.bytes(), InetContext(), sockets);
  EXPECT_EQ(status.kind, DatagramStatus::Kind::kKernelError);
  EXPECT_EQ(status.kernel_errno, ENOENT);
  EXPECT_TRUE(sockets.empty());
}

TEST(SockDiagParser, RejectsATruncatedErrorMessage) {
  MessageBuffer buffer;
  nlmsghdr* header = buffer.Add(NLMSG_ERROR, kSequence, 0);
  *static_cast<int*>(mnl_nlmsg_put_extra_header(header, sizeof(int))) = -ENOENT;
  std::vector<Socket> sockets;
  EXPECT_EQ(Parse(buffer.bytes(), InetContext(), sockets).kind, DatagramStatus::Kind::kMalformed);
}

TEST(SockDiagParser, SkipsAnAcknowledgement) {
  MessageBuffer buffer;
  nlmsghdr* ack = buffer.Add(NLMSG_ERROR, kSequence, 0);
  auto* error = static_cast<nlmsgerr*>(mnl_nlmsg_put_extra_header(ack, sizeof(nlmsgerr)));
  error->error = 0;
  AddV6OnlyListener(buffer);
  nlmsghdr* done = buffer.Add(NLMSG_DONE, kSequence);
  *static_cast<int*>(mnl_nlmsg_put_extra_header(done, sizeof(int))) = 0;
  std::vector<Socket> sockets;
  const DatagramStatus status = Parse(buffer.bytes(), InetContext(), sockets);
  EXPECT_EQ(status.kind, DatagramStatus::Kind::kDone) << status.detail;
  ASSERT_EQ(sockets.size(), 1u);
  EXPECT_EQ(sockets[0].inode, kSyntheticInode);
}

TEST(SockDiagParser, ReportsAnErrorCarriedByDone) {
  MessageBuffer buffer;
  AddV6OnlyListener(buffer);
  nlmsghdr* done = buffer.Add(NLMSG_DONE, kSequence);
  *static_cast<int*>(mnl_nlmsg_put_extra_header(done, sizeof(int))) = -EMSGSIZE;
  std::vector<Socket> sockets;
  const DatagramStatus status = Parse(buffer.bytes(), InetContext(), sockets);
  EXPECT_EQ(status.kind, DatagramStatus::Kind::kKernelError);
  EXPECT_EQ(status.kernel_errno, EMSGSIZE);
}

TEST(SockDiagParser, RejectsErrorCodesThatAreNotNegativeErrnos) {
  for (const int code : {INT_MIN, -4096, 1, 22}) {
    MessageBuffer buffer;
    nlmsghdr* header = buffer.Add(NLMSG_ERROR, kSequence, 0);
    auto* error = static_cast<nlmsgerr*>(mnl_nlmsg_put_extra_header(header, sizeof(nlmsgerr)));
    error->error = code;
    std::vector<Socket> sockets;
    EXPECT_EQ(Parse(buffer.bytes(), InetContext(), sockets).kind, DatagramStatus::Kind::kMalformed)
        << code;
  }
  MessageBuffer done_buffer;
  nlmsghdr* done = done_buffer.Add(NLMSG_DONE, kSequence);
  *static_cast<int*>(mnl_nlmsg_put_extra_header(done, sizeof(int))) = INT_MIN;
  std::vector<Socket> sockets;
  EXPECT_EQ(Parse(done_buffer.bytes(), InetContext(), sockets).kind,
            DatagramStatus::Kind::kMalformed);
}

}  // namespace
}  // namespace portwatch::collectors::linux
