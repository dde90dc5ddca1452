// The built-in detectors against real sockets: each test runs in a network namespace of its own
// (so only the test's sockets are there), takes real snapshots with the Linux collector and runs
// the rules engine over them. Every detector has a test that makes it fire and one that keeps it
// quiet.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "agent/rules/baseline.h"
#include "agent/rules/engine.h"
#include "agent/rules/rule.h"
#include "collectors/collector.h"
#include "tests/support/namespaces.h"
#include "tests/support/sockets.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait_for.h"

namespace portwatch::agent::rules {
namespace {

using collectors::Snapshot;
using portwatch::testing::Bind;
using portwatch::testing::ChildProcess;
using portwatch::testing::Fd;
using portwatch::testing::Listen;
using portwatch::testing::OwnNamespaces;
using portwatch::testing::RunCommand;
using portwatch::testing::TempDir;
using portwatch::testing::TestSocket;
using ::testing::Each;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

// A TCP listener on address:port with a backlog.
TestSocket ListenOn(const char* address, uint16_t port, int backlog = 16) {
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  EXPECT_TRUE(portwatch::testing::BindTo(fd.get(), AF_INET, address, port))
      << address << ":" << port;
  EXPECT_EQ(listen(fd.get(), backlog), 0);
  return portwatch::testing::Record(std::move(fd));
}

// A TCP connection attempt to address:port that is left in progress.
Fd ConnectAsync(const char* address, uint16_t port) {
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  sockaddr_in peer{};
  peer.sin_family = AF_INET;
  peer.sin_port = htons(port);
  inet_pton(AF_INET, address, &peer.sin_addr);
  const int result = connect(fd.get(), reinterpret_cast<const sockaddr*>(&peer), sizeof(peer));
  EXPECT_TRUE(result == 0 || errno == EINPROGRESS) << address << ":" << port;
  return fd;
}

// Runs `program` (a copy of sleep, or sleep itself) holding `fd`, and closes it here, so the
// socket's only owner is that program.
std::unique_ptr<ChildProcess> HoldIn(const std::string& program, Fd& fd) {
  std::unique_ptr<ChildProcess> child = ChildProcess::Exec({program, "1000"}, {fd.get()});
  fd.Reset();
  return child;
}

// Copies /bin/sleep to dir/name.
std::string CopyOfSleep(const std::string& dir, const std::string& name) {
  const std::string path = dir + "/" + name;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::filesystem::copy_file("/usr/bin/sleep", path);
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  return path;
}

uint16_t Checksum(const void* data, size_t size, uint32_t sum = 0) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i + 1 < size; i += 2)
    sum += static_cast<uint32_t>(bytes[i] << 8 | bytes[i + 1]);
  if (size % 2 != 0) sum += static_cast<uint32_t>(bytes[size - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return htons(static_cast<uint16_t>(~sum));
}

// Sends one TCP SYN from a spoofed source through a raw IPPROTO_RAW socket (IP header included).
void SendSyn(const Fd& raw, const char* source, uint16_t source_port, const char* target,
             uint16_t target_port) {
  struct {
    iphdr ip;
    tcphdr tcp;
  } packet{};
  packet.ip.version = 4;
  packet.ip.ihl = 5;
  packet.ip.ttl = 64;
  packet.ip.protocol = IPPROTO_TCP;
  packet.ip.tot_len = htons(static_cast<uint16_t>(sizeof(packet)));
  inet_pton(AF_INET, source, &packet.ip.saddr);
  inet_pton(AF_INET, target, &packet.ip.daddr);
  packet.tcp.source = htons(source_port);
  packet.tcp.dest = htons(target_port);
  packet.tcp.seq = htonl(0x1000u + source_port);
  packet.tcp.doff = 5;
  packet.tcp.syn = 1;
  packet.tcp.window = htons(64240);
  // The TCP checksum covers a pseudo-header: addresses, protocol and length.
  struct {
    uint32_t source;
    uint32_t target;
    uint8_t zero;
    uint8_t protocol;
    uint16_t length;
    tcphdr tcp;
  } pseudo{packet.ip.saddr,
           packet.ip.daddr,
           0,
           IPPROTO_TCP,
           htons(static_cast<uint16_t>(sizeof(tcphdr))),
           packet.tcp};
  packet.tcp.check = Checksum(&pseudo, sizeof(pseudo));
  packet.ip.check = Checksum(&packet.ip, sizeof(packet.ip));
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = packet.ip.daddr;
  EXPECT_EQ(sendto(raw.get(), &packet, sizeof(packet), 0, reinterpret_cast<const sockaddr*>(&to),
                   sizeof(to)),
            static_cast<ssize_t>(sizeof(packet)));
}

std::vector<Finding> Of(const std::vector<Finding>& findings, std::string_view rule) {
  std::vector<Finding> matching;
  for (const Finding& finding : findings) {
    if (finding.rule == rule) matching.push_back(finding);
  }
  return matching;
}

class DetectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(namespaces_.entered()) << "the detector tests need root for a network namespace";
  }

  // Every detector enabled, with the built-in tables.
  static DetectorsConfig AllOn() {
    DetectorsConfig config = DefaultDetectors();
    config.privileged_port.enabled = true;
    config.new_outbound.enabled = true;
    return config;
  }

  Snapshot Collect() {
    Result<Snapshot> snapshot = collector_->Collect();
    EXPECT_TRUE(snapshot.ok()) << snapshot.error().message;
    return snapshot.ok() ? std::move(snapshot).value() : Snapshot{};
  }

  // An engine with these detectors and an empty baseline (every listener is unexpected).
  static Engine NewEngine(const DetectorsConfig& config,
                          std::optional<Baseline> baseline = Baseline()) {
    RuleSet rules;
    rules.detectors = config;
    Engine engine(rules);
    engine.SetBaseline(std::move(baseline));
    return engine;
  }

  // One snapshot through a fresh engine.
  std::vector<Finding> Evaluate(const DetectorsConfig& config,
                                std::optional<Baseline> baseline = Baseline()) {
    return NewEngine(config, std::move(baseline)).Evaluate(Collect(), Now());
  }

  static int64_t Now() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  // A veth pair with 10.200.0.1/24 on one end and nobody else on the link: connections to
  // 10.200.0.2 and up leave the host and stay in SYN_SENT (no neighbour ever answers), so they
  // are outbound connections to remote peers.
  void AddRemoteNetwork() {
    for (const std::vector<std::string>& command :
         {std::vector<std::string>{"ip", "link", "add", "pw0", "type", "veth", "peer", "name",
                                   "pw1"},
          std::vector<std::string>{"ip", "addr", "add", "10.200.0.1/24", "dev", "pw0"},
          std::vector<std::string>{"ip", "link", "set", "pw1", "up"},
          std::vector<std::string>{"ip", "link", "set", "pw0", "up"}}) {
      const portwatch::testing::CommandResult result = RunCommand(command);
      ASSERT_EQ(result.exit_code, 0) << portwatch::testing::Describe(result);
    }
  }

  static void WriteSysctl(const std::string& name, const std::string& value) {
    std::ofstream("/proc/sys/net/ipv4/" + name) << value;
  }

  OwnNamespaces namespaces_{OwnNamespaces::Scope::kNetwork};
  std::unique_ptr<collectors::Collector> collector_ = collectors::MakeCollector({});
  TempDir dir_;
};

// --- 1. unexpected_listener -----------------------------------------------------------------

TEST_F(DetectorTest, UnexpectedListenerFiresForAListenerTheBaselineLacks) {
  TestSocket known = ListenOn("127.0.0.1", 8080);
  Baseline baseline;
  ASSERT_EQ(baseline.Learn(Collect()), 1);
  TestSocket unknown = ListenOn("0.0.0.0", 8081);

  const std::vector<Finding> found = Of(Evaluate(AllOn(), baseline), "unexpected_listener");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_THAT(found[0].subject, HasSubstr("listener tcp/8081 exposure=all"));
  EXPECT_EQ(found[0].kind, SubjectKind::kListener);
}

TEST_F(DetectorTest, UnexpectedListenerIsQuietForBaselineListenersAndWhileLearning) {
  TestSocket web = ListenOn("127.0.0.1", 8080);
  Baseline baseline;
  baseline.Learn(Collect());
  EXPECT_TRUE(Of(Evaluate(AllOn(), baseline), "unexpected_listener").empty());
  // No baseline yet: nothing can be unexpected.
  TestSocket other = ListenOn("127.0.0.1", 8082);
  EXPECT_TRUE(Of(Evaluate(AllOn(), std::nullopt), "unexpected_listener").empty());
}

// --- 2. dynamic_range_listener --------------------------------------------------------------

TEST_F(DetectorTest, DynamicRangeListenerFiresInsideTheHostsEphemeralRange) {
  WriteSysctl("ip_local_port_range", "40000 40999");  // per network namespace
  TestSocket listener = ListenOn("127.0.0.1", 40500);
  const std::vector<Finding> found = Of(Evaluate(AllOn()), "dynamic_range_listener");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_THAT(found[0].reason, HasSubstr("40000-40999"));
}

TEST_F(DetectorTest, DynamicRangeListenerIsQuietOutsideItAndForANewUdpSocket) {
  WriteSysctl("ip_local_port_range", "40000 40999");
  TestSocket service = ListenOn("127.0.0.1", 41000);
  // Maybe a resolver's query socket: it has not been open for udp_settle yet.
  TestSocket udp = Bind(AF_INET, SOCK_DGRAM, "127.0.0.1", 40600);
  EXPECT_TRUE(Of(Evaluate(AllOn()), "dynamic_range_listener").empty());
}

// --- 1 and 2 for UDP: a bound, unconnected socket in the ephemeral range is a listener -------

// An unconnected UDP socket of one program on 0.0.0.0:40000, and a connected client socket
// (as a glibc resolver makes) on a port the kernel picked.
TEST_F(DetectorTest, AnUnconnectedUdpSocketInTheEphemeralRangeIsAnUnexpectedListener) {
  TestSocket listener = Bind(AF_INET, SOCK_DGRAM, "0.0.0.0", 40000);  // 32768-60999 here
  Fd client(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in peer{};
  peer.sin_family = AF_INET;
  peer.sin_port = htons(53);
  inet_pton(AF_INET, "127.0.0.1", &peer.sin_addr);
  ASSERT_EQ(connect(client.get(), reinterpret_cast<const sockaddr*>(&peer), sizeof(peer)), 0);
  ASSERT_GE(portwatch::testing::PortOf(client), 32768);

  Engine engine = NewEngine(AllOn());
  const int64_t start = Now();
  // Just opened: it may be a resolver's query socket, which lives for one round trip.
  const std::vector<Finding> first = engine.Evaluate(Collect(), start);
  EXPECT_TRUE(Of(first, "unexpected_listener").empty());
  EXPECT_TRUE(Of(first, "dynamic_range_listener").empty());
  // Still there after udp_settle (30 s): a listener anyone can send to.
  const std::vector<Finding> later = engine.Evaluate(Collect(), start + 31'000);
  const std::vector<Finding> unexpected = Of(later, "unexpected_listener");
  ASSERT_EQ(unexpected.size(), 1u);
  EXPECT_THAT(unexpected[0].subject, HasSubstr("listener udp/40000 exposure=all"));
  const std::vector<Finding> dynamic = Of(later, "dynamic_range_listener");
  ASSERT_EQ(dynamic.size(), 1u);
  EXPECT_THAT(dynamic[0].subject, HasSubstr("listener udp/40000"));
}

TEST_F(DetectorTest, ATransientUdpSocketAndAConnectedOneAreNoListeners) {
  Engine engine = NewEngine(AllOn());
  const int64_t start = Now();
  {
    TestSocket query = Bind(AF_INET, SOCK_DGRAM, "0.0.0.0", 40001);
    engine.Evaluate(Collect(), start);
  }  // answered and closed within a second
  Fd client(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in peer{};
  peer.sin_family = AF_INET;
  peer.sin_port = htons(53);
  inet_pton(AF_INET, "127.0.0.1", &peer.sin_addr);
  ASSERT_EQ(connect(client.get(), reinterpret_cast<const sockaddr*>(&peer), sizeof(peer)), 0);
  engine.Evaluate(Collect(), start + 1'000);
  const std::vector<Finding> later = engine.Evaluate(Collect(), start + 60'000);
  EXPECT_TRUE(Of(later, "unexpected_listener").empty());
  EXPECT_TRUE(Of(later, "dynamic_range_listener").empty());
}

TEST_F(DetectorTest, AUdpServiceOutsideTheEphemeralRangeIsUnexpectedAtOnce) {
  TestSocket listener = Bind(AF_INET, SOCK_DGRAM, "0.0.0.0", 5060);
  const std::vector<Finding> found = Of(Evaluate(AllOn()), "unexpected_listener");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_THAT(found[0].subject, HasSubstr("listener udp/5060"));
}

// --- 3. service_owner -----------------------------------------------------------------------

TEST_F(DetectorTest, ServiceOwnerFiresWhenAnotherProgramHoldsTheSshPort) {
  TestSocket listener = ListenOn("0.0.0.0", 22);
  const std::string program = CopyOfSleep(dir_.path(), "backup-agent");
  auto holder = HoldIn(program, listener.fd);
  const std::vector<Finding> found = Of(Evaluate(AllOn()), "service_owner");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_THAT(found[0].reason,
              HasSubstr("port 22 is held by " + program + " (named 'backup-agent')"));
  EXPECT_THAT(found[0].reason, HasSubstr("/usr/sbin/sshd"));
}

// The attack: a process names itself sshd (prctl), as any process may, and holds port 22.
TEST_F(DetectorTest, ServiceOwnerFiresForAProcessThatNamesItselfSshd) {
  TestSocket listener = ListenOn("0.0.0.0", 22);
  ChildProcess impostor([] { prctl(PR_SET_NAME, "sshd", 0, 0, 0); });
  listener.fd.Reset();  // the child's copy is the only one
  const std::vector<Finding> found = Of(Evaluate(AllOn()), "service_owner");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_THAT(found[0].reason, HasSubstr("(named 'sshd')"));
  EXPECT_THAT(found[0].subject, HasSubstr("listener tcp/22"));
}

// The attack: a copy of a binary under the allowlisted name, at another path.
TEST_F(DetectorTest, ServiceOwnerFiresForACopyNamedSshdAtAnotherPath) {
  TestSocket listener = ListenOn("0.0.0.0", 22);
  const std::string copy = CopyOfSleep(dir_.path(), "usr/local/sbin/sshd");
  auto holder = HoldIn(copy, listener.fd);
  const std::vector<Finding> found = Of(Evaluate(AllOn()), "service_owner");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_THAT(found[0].reason, HasSubstr("held by " + copy));
}

TEST_F(DetectorTest, ServiceOwnerIsQuietForTheRightProgram) {
  TestSocket listener = ListenOn("0.0.0.0", 22);
  const std::string sshd = CopyOfSleep(dir_.path(), "sbin/sshd");
  auto holder = HoldIn(sshd, listener.fd);
  DetectorsConfig config = AllOn();
  config.service_owners[22] = {dir_.path() + "/sbin/sshd"};  // stands for /usr/sbin/sshd
  EXPECT_TRUE(Of(Evaluate(config), "service_owner").empty());
}

// --- 4. sensitive_exposed -------------------------------------------------------------------

TEST_F(DetectorTest, SensitiveExposedFiresForRedisOnEveryInterface) {
  TestSocket redis = ListenOn("0.0.0.0", 6379);
  const std::vector<Finding> found = Of(Evaluate(AllOn()), "sensitive_exposed");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_THAT(found[0].reason, HasSubstr("6379 is open on every interface"));
}

TEST_F(DetectorTest, SensitiveExposedIsQuietOnLoopback) {
  TestSocket redis = ListenOn("127.0.0.1", 6379);
  EXPECT_TRUE(Of(Evaluate(AllOn()), "sensitive_exposed").empty());
}

// --- 5. backdoor_port -----------------------------------------------------------------------

TEST_F(DetectorTest, BackdoorPortFiresForAListenerAndAnOutboundConnection) {
  AddRemoteNetwork();
  TestSocket listener = ListenOn("0.0.0.0", 31337);
  Fd c2 = ConnectAsync("10.200.0.2", 4444);
  const std::vector<Finding> found = Of(Evaluate(AllOn()), "backdoor_port");
  EXPECT_THAT(found,
              UnorderedElementsAre(
                  Field(&Finding::subject, HasSubstr("listener tcp/31337")),
                  Field(&Finding::subject, HasSubstr("connection tcp outbound 10.200.0.2:4444"))));
  EXPECT_THAT(found, Each(Field(&Finding::mitre, "T1571")));
}

TEST_F(DetectorTest, BackdoorPortIsQuietForOrdinaryPorts) {
  AddRemoteNetwork();
  TestSocket listener = ListenOn("0.0.0.0", 8443);
  Fd web = ConnectAsync("10.200.0.2", 443);
  EXPECT_TRUE(Of(Evaluate(AllOn()), "backdoor_port").empty());
}

// --- 6. suspicious_exe ----------------------------------------------------------------------

TEST_F(DetectorTest, SuspiciousExeFiresForAProgramInATemporaryDirectory) {
  DetectorsConfig config = AllOn();
  config.suspicious_dirs = {dir_.path() + "/"};  // the test's own directory stands for /tmp
  TestSocket listener = ListenOn("127.0.0.1", 8080);
  auto holder = HoldIn(CopyOfSleep(dir_.path(), "worker"), listener.fd);
  const std::vector<Finding> found = Of(Evaluate(config), "suspicious_exe");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_THAT(found[0].reason, HasSubstr("a temporary directory anyone can write to"));
  EXPECT_EQ(found[0].kind, SubjectKind::kListener);
}

TEST_F(DetectorTest, SuspiciousExeFiresForAHiddenDirectoryAndADeletedBinary) {
  DetectorsConfig config = AllOn();
  config.suspicious_dirs = {};
  TestSocket hidden_socket = ListenOn("127.0.0.1", 8080);
  auto hidden = HoldIn(CopyOfSleep(dir_.path(), ".cache/worker"), hidden_socket.fd);
  TestSocket deleted_socket = ListenOn("127.0.0.1", 8081);
  const std::string doomed = CopyOfSleep(dir_.path(), "updater");
  auto deleted = HoldIn(doomed, deleted_socket.fd);
  std::filesystem::remove(doomed);

  const std::vector<Finding> found = Of(Evaluate(config), "suspicious_exe");
  EXPECT_THAT(found,
              UnorderedElementsAre(Field(&Finding::reason, HasSubstr("hidden directory")),
                                   Field(&Finding::reason, HasSubstr("was deleted or replaced"))));
}

TEST_F(DetectorTest, SuspiciousExeIsQuietForAnInstalledProgram) {
  TestSocket listener = ListenOn("127.0.0.1", 8080);
  auto holder = HoldIn("/usr/bin/sleep", listener.fd);
  EXPECT_TRUE(Of(Evaluate(AllOn()), "suspicious_exe").empty());
}

// --- 7. raw_socket --------------------------------------------------------------------------

TEST_F(DetectorTest, RawSocketFiresForAPacketSocketOfAnUnlistedProgram) {
  Fd packet(socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL)));
  ASSERT_GE(packet.get(), 0);
  Fd raw(socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP));
  ASSERT_GE(raw.get(), 0);
  const std::vector<Finding> found = Of(Evaluate(AllOn()), "raw_socket");
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].kind, SubjectKind::kSocket);
  EXPECT_EQ(found[0].mitre, "T1040");
}

// The attack: BPFDoor's disguise, a binary named avahi-daemon holding a packet socket, at a
// path of its own.
TEST_F(DetectorTest, RawSocketFiresForACopyNamedAvahiDaemon) {
  Fd packet(socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL)));
  ASSERT_GE(packet.get(), 0);
  const std::string copy = CopyOfSleep(dir_.path(), "usr/sbin/avahi-daemon");
  auto holder = HoldIn(copy, packet);
  const std::vector<Finding> found = Of(Evaluate(AllOn()), "raw_socket");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_THAT(found[0].reason, HasSubstr(copy + " (named 'avahi-daemon') is not a program"));
}

TEST_F(DetectorTest, RawSocketIsQuietForAllowedPrograms) {
  Fd packet(socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL)));
  ASSERT_GE(packet.get(), 0);
  DetectorsConfig config = AllOn();
  config.raw_socket_programs.push_back("portwatch_agent*");  // this test binary
  EXPECT_TRUE(Of(Evaluate(config), "raw_socket").empty());
}

// --- 8. fan_out -----------------------------------------------------------------------------

TEST_F(DetectorTest, FanOutFiresForAProcessReachingManyHosts) {
  AddRemoteNetwork();
  DetectorsConfig config = AllOn();
  config.fan_out_hosts = 10;
  config.fan_out_ports = 1000;
  Engine engine = NewEngine(config);
  engine.Evaluate(Collect(), Now());  // the agent's first snapshot
  std::vector<Fd> sweep;
  for (int host = 2; host < 14; ++host) {
    sweep.push_back(ConnectAsync(("10.200.0." + std::to_string(host)).c_str(), 22));
  }
  const std::vector<Finding> found = Of(engine.Evaluate(Collect(), Now()), "fan_out");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].kind, SubjectKind::kProcess);
  EXPECT_THAT(found[0].reason, HasSubstr("on 12 hosts"));
}

TEST_F(DetectorTest, FanOutIsQuietBelowTheLimitsAndForConnectionsOpenAtTheStart) {
  AddRemoteNetwork();
  DetectorsConfig config = AllOn();
  config.fan_out_hosts = 10;
  config.fan_out_ports = 10;
  // Twelve peers already connected when the agent starts: a client pool, not a sweep.
  std::vector<Fd> pool;
  for (int host = 2; host < 14; ++host) {
    pool.push_back(ConnectAsync(("10.200.0." + std::to_string(host)).c_str(), 443));
  }
  Engine engine = NewEngine(config);
  EXPECT_TRUE(Of(engine.Evaluate(Collect(), Now()), "fan_out").empty());
  std::vector<Fd> few;
  for (int host = 20; host < 25; ++host) {
    few.push_back(ConnectAsync(("10.200.0." + std::to_string(host)).c_str(), 443));
  }
  EXPECT_TRUE(Of(engine.Evaluate(Collect(), Now()), "fan_out").empty());
}

// --- 9. syn_flood ---------------------------------------------------------------------------

TEST_F(DetectorTest, SynFloodFiresWhenAListenersAcceptQueueOverflows) {
  Engine engine = NewEngine(AllOn());
  TestSocket listener = ListenOn("127.0.0.1", 8080, /*backlog=*/1);
  engine.Evaluate(Collect(), Now());  // the counters before
  // Nobody accepts: once the queue holds backlog + 1 connections, further ones are dropped.
  std::vector<Fd> clients;
  for (int i = 0; i < 8; ++i) clients.push_back(ConnectAsync("127.0.0.1", 8080));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const std::vector<Finding> found = Of(engine.Evaluate(Collect(), Now()), "syn_flood");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_THAT(found[0].subject, HasSubstr("listener tcp/8080"));
  EXPECT_THAT(found[0].reason, HasSubstr("accept queue is full"));
}

// A spoofed SYN flood with syncookies on: sources on a link where nobody answers, so every SYN-ACK
// goes unanswered, the accept queue stays empty and ListenOverflows never moves.
TEST_F(DetectorTest, SynFloodFiresForASpoofedFloodWithSyncookiesOn) {
  AddRemoteNetwork();
  WriteSysctl("tcp_syncookies", "1");
  TestSocket listener = ListenOn("0.0.0.0", 8080, /*backlog=*/128);
  Engine engine = NewEngine(AllOn());
  engine.Evaluate(Collect(), Now());  // the counters before

  Fd raw(socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW));
  ASSERT_GE(raw.get(), 0);
  for (int i = 0; i < 2000; ++i) {
    const std::string source = "10.200.0." + std::to_string(2 + i % 250);
    SendSyn(raw, source.c_str(), static_cast<uint16_t>(10000 + i), "10.200.0.1", 8080);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const Snapshot snapshot = Collect();
  ASSERT_TRUE(snapshot.host.syncookies_sent.has_value());
  const std::vector<Finding> found = Of(engine.Evaluate(snapshot, Now()), "syn_flood");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_THAT(found[0].subject, HasSubstr("listener tcp/8080"));
  EXPECT_THAT(found[0].reason, HasSubstr("its SYN queue is full: backlog 128"));
  EXPECT_THAT(found[0].reason, HasSubstr("SyncookiesSent +"));
}

TEST_F(DetectorTest, SynFloodIsQuietForAListenerKeepingUp) {
  Engine engine = NewEngine(AllOn());
  TestSocket listener = ListenOn("127.0.0.1", 8080, /*backlog=*/128);
  engine.Evaluate(Collect(), Now());
  std::vector<Fd> clients;
  for (int i = 0; i < 8; ++i) clients.push_back(ConnectAsync("127.0.0.1", 8080));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_TRUE(Of(engine.Evaluate(Collect(), Now()), "syn_flood").empty());
}

// --- 10. privileged_port --------------------------------------------------------------------

TEST_F(DetectorTest, PrivilegedPortFiresForANonRootUserOnPort80) {
  WriteSysctl("ip_unprivileged_port_start", "0");  // lets nobody bind port 80 here
  // The child becomes nobody, then binds, so the listener is its own (and then waits).
  ChildProcess nobody([] {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(1);
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (!portwatch::testing::BindTo(fd, AF_INET, "127.0.0.1", 80) || listen(fd, 4) != 0) {
      _exit(2);
    }
  });
  ASSERT_TRUE(portwatch::testing::WaitFor(
      [&] {
        const Snapshot snapshot = Collect();
        return std::any_of(snapshot.sockets.begin(), snapshot.sockets.end(),
                           [](const collectors::Socket& s) { return s.local.port == 80; });
      },
      std::chrono::seconds(5)));
  const std::vector<Finding> found = Of(Evaluate(AllOn()), "privileged_port");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_THAT(found[0].reason, HasSubstr("holds privileged port 80"));
  EXPECT_THAT(found[0].reason, HasSubstr("ip_unprivileged_port_start is 0"));
}

TEST_F(DetectorTest, PrivilegedPortIsQuietForRootAndOffByDefault) {
  TestSocket root_listener = ListenOn("127.0.0.1", 80);  // the test runs as root
  EXPECT_TRUE(Of(Evaluate(AllOn()), "privileged_port").empty());
  EXPECT_FALSE(DefaultDetectors().privileged_port.enabled);
}

// --- 11. new_outbound -----------------------------------------------------------------------

TEST_F(DetectorTest, NewOutboundFiresForADestinationFirstMetAfterTheStart) {
  AddRemoteNetwork();
  Engine engine = NewEngine(AllOn());
  Fd known = ConnectAsync("10.200.0.2", 443);
  EXPECT_TRUE(Of(engine.Evaluate(Collect(), Now()), "new_outbound").empty()) << "learning";
  Fd fresh = ConnectAsync("10.200.0.3", 443);
  const std::vector<Finding> found = Of(engine.Evaluate(Collect(), Now()), "new_outbound");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_THAT(found[0].subject, HasSubstr("10.200.0.3:443"));
}

TEST_F(DetectorTest, NewOutboundIsQuietForKnownDestinationsAndOffByDefault) {
  AddRemoteNetwork();
  Engine engine = NewEngine(AllOn());
  Fd first = ConnectAsync("10.200.0.2", 443);
  engine.Evaluate(Collect(), Now());
  Fd again = ConnectAsync("10.200.0.2", 443);  // the same destination, another connection
  EXPECT_TRUE(Of(engine.Evaluate(Collect(), Now()), "new_outbound").empty());
  EXPECT_FALSE(DefaultDetectors().new_outbound.enabled);
}

// --- Exceptions, accepted subjects and rules ------------------------------------------------

TEST_F(DetectorTest, DetectorExceptionsAndAcceptedSubjectsSilenceFindings) {
  TestSocket redis = ListenOn("0.0.0.0", 6379);
  DetectorsConfig config = AllOn();
  Condition on_redis_port;
  on_redis_port.local_ports = PortSet{{{6379, 6379}}};
  config.sensitive_exposed.exceptions.push_back(on_redis_port);
  EXPECT_TRUE(Of(Evaluate(config), "sensitive_exposed").empty());

  Engine engine = NewEngine(AllOn());
  const std::vector<Finding> before = engine.Evaluate(Collect(), Now());
  ASSERT_FALSE(Of(before, "sensitive_exposed").empty());
  std::vector<store::Acceptance> accepted;
  for (const Finding& found : Of(before, "sensitive_exposed")) {
    store::Acceptance acceptance;
    acceptance.subject = found.subject;
    acceptance.rule = "sensitive_exposed";
    acceptance.severity = static_cast<int>(found.severity);
    accepted.push_back(acceptance);
  }
  engine.SetAccepted(accepted);
  EXPECT_TRUE(Of(engine.Evaluate(Collect(), Now()), "sensitive_exposed").empty());
}

TEST_F(DetectorTest, TheAgentsOwnSocketsAreNeverFindings) {
  // The test process plays the agent: its backdoor-port listener fires until it is "self".
  TestSocket own = ListenOn("0.0.0.0", 31337);
  Engine engine = NewEngine(AllOn());
  ASSERT_FALSE(Of(engine.Evaluate(Collect(), Now()), "backdoor_port").empty());
  engine.SetSelf(static_cast<int32_t>(getpid()));
  EXPECT_TRUE(Of(engine.Evaluate(Collect(), Now()), "backdoor_port").empty());
  // Another program's socket on the same kind of port still fires.
  Fd other = ListenOn("0.0.0.0", 4444).fd;
  std::unique_ptr<ChildProcess> holder = HoldIn("/usr/bin/sleep", other);
  EXPECT_FALSE(Of(engine.Evaluate(Collect(), Now()), "backdoor_port").empty());
}

TEST_F(DetectorTest, ARuleFiresOnItsConditionButNotOnItsException) {
  TestSocket admin = ListenOn("127.0.0.1", 9000);
  TestSocket api = ListenOn("127.0.0.1", 9001);
  Rule rule;
  rule.id = "admin-port";
  rule.description = "an admin port listens";
  rule.severity = Severity::kCritical;
  rule.condition.local_ports = PortSet{{{9000, 9010}}};
  rule.condition.directions = {collectors::Direction::kListen};
  Condition except_9001;
  except_9001.local_ports = PortSet{{{9001, 9001}}};
  rule.exceptions.push_back(except_9001);
  RuleSet rules;
  rules.rules.push_back(rule);
  Engine engine(rules);
  const std::vector<Finding> found = Of(engine.Evaluate(Collect(), Now()), "admin-port");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_THAT(found[0].subject, HasSubstr("tcp/9000"));
  EXPECT_EQ(found[0].severity, Severity::kCritical);
}

}  // namespace
}  // namespace portwatch::agent::rules
