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
#include <sys/socket.h>
#include <unistd.h>

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

TEST_F(DetectorTest, DynamicRangeListenerIsQuietOutsideItAndForUdpByDefault) {
  WriteSysctl("ip_local_port_range", "40000 40999");
  TestSocket service = ListenOn("127.0.0.1", 41000);
  TestSocket udp = Bind(AF_INET, SOCK_DGRAM, "127.0.0.1", 40600);
  EXPECT_TRUE(Of(Evaluate(AllOn()), "dynamic_range_listener").empty());
}

// --- 3. service_owner -----------------------------------------------------------------------

TEST_F(DetectorTest, ServiceOwnerFiresWhenAnotherProgramHoldsTheSshPort) {
  TestSocket listener = ListenOn("0.0.0.0", 22);
  auto holder = HoldIn(CopyOfSleep(dir_.path(), "backup-agent"), listener.fd);
  const std::vector<Finding> found = Of(Evaluate(AllOn()), "service_owner");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_THAT(found[0].reason, HasSubstr("port 22 belongs to sshd"));
  EXPECT_THAT(found[0].reason, HasSubstr("backup-agent holds it"));
}

TEST_F(DetectorTest, ServiceOwnerIsQuietForTheRightProgram) {
  TestSocket listener = ListenOn("0.0.0.0", 22);
  auto holder = HoldIn(CopyOfSleep(dir_.path(), "sshd"), listener.fd);
  EXPECT_TRUE(Of(Evaluate(AllOn()), "service_owner").empty());
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
