// Integration tests of the Linux collector against real sockets on this host.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <functional>
#include <thread>

#include "collectors/collector.h"
#include "tests/support/namespaces.h"
#include "tests/support/sockets.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait_for.h"

namespace portwatch::collectors {
namespace {

using portwatch::testing::Accept;
using portwatch::testing::Bind;
using portwatch::testing::ChildProcess;
using portwatch::testing::ConnectLoopback;
using portwatch::testing::Fd;
using portwatch::testing::InodeOf;
using portwatch::testing::Listen;
using portwatch::testing::OwnNamespaces;
using portwatch::testing::TempDir;
using portwatch::testing::TestSocket;
using portwatch::testing::WaitFor;
using ::testing::UnorderedElementsAre;

Snapshot Collect(CollectorOptions options = {}) {
  Result<Snapshot> snapshot = MakeCollector(options)->Collect();
  EXPECT_TRUE(snapshot.ok()) << snapshot.error().message;
  return snapshot.ok() ? std::move(snapshot).value() : Snapshot{};
}

const Socket* FindInode(const Snapshot& snapshot, uint64_t inode) {
  for (const Socket& socket : snapshot.sockets) {
    if (socket.inode == inode) return &socket;
  }
  return nullptr;
}

std::vector<int32_t> OwnerPids(const Snapshot& snapshot, const Socket& socket) {
  std::vector<int32_t> pids;
  for (uint32_t index : snapshot.Owners(socket)) pids.push_back(snapshot.processes[index].pid);
  return pids;
}

TEST(LinuxCollector, FindsATcpListenerWithItsOwner) {
  TestSocket listener = Listen(AF_INET, "127.0.0.1");
  const Snapshot snapshot = Collect();
  const Socket* socket = FindInode(snapshot, listener.inode);
  ASSERT_NE(socket, nullptr);
  EXPECT_EQ(socket->protocol, Protocol::kTcp);
  EXPECT_EQ(socket->family, Family::kIpv4);
  EXPECT_EQ(socket->state, SocketState::kListen);
  EXPECT_EQ(socket->local.address, *Address::Parse("127.0.0.1"));
  EXPECT_EQ(socket->local.port, listener.port);
  EXPECT_NE(socket->cookie, 0u);
  EXPECT_EQ(socket->uid, geteuid());
  EXPECT_EQ(socket->exposure, Exposure::kLoopback);
  EXPECT_EQ(socket->direction, Direction::kListen);
  EXPECT_EQ(socket->owner_status, OwnerStatus::kKnown);
  EXPECT_EQ(OwnerPids(snapshot, *socket), std::vector<int32_t>{getpid()});
  const Process* owner = snapshot.PrimaryOwner(*socket);
  ASSERT_NE(owner, nullptr);
  EXPECT_EQ(owner->name.substr(0, 15), std::string("portwatch_collectors_tests").substr(0, 15));
  EXPECT_FALSE(owner->exe.empty());
  EXPECT_EQ(owner->uid, geteuid());
  EXPECT_GT(snapshot.duration.count(), 0);
}

TEST(LinuxCollector, TellsV6OnlyFromDualStackListeners) {
  TestSocket v6only = Listen(AF_INET6, "::", true);
  TestSocket dual = Listen(AF_INET6, "::", false);
  TestSocket loopback6 = Listen(AF_INET6, "::1");
  const Snapshot snapshot = Collect();
  const Socket* a = FindInode(snapshot, v6only.inode);
  const Socket* b = FindInode(snapshot, dual.inode);
  const Socket* c = FindInode(snapshot, loopback6.inode);
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->family, Family::kIpv6);
  EXPECT_TRUE(a->v6only);
  EXPECT_FALSE(b->v6only);
  EXPECT_EQ(a->exposure, Exposure::kAll);
  EXPECT_EQ(c->exposure, Exposure::kLoopback);
  EXPECT_EQ(c->local.address, *Address::Parse("::1"));
  EXPECT_EQ(c->local.port, loopback6.port);
}

TEST(LinuxCollector, FindsBothEndsOfAnEstablishedConnection) {
  TestSocket listener = Listen(AF_INET, "127.0.0.1");
  TestSocket client = ConnectLoopback(listener.port);
  TestSocket server = Accept(listener);
  ASSERT_GE(server.fd.get(), 0);
  const Snapshot snapshot = Collect();
  const Socket* c = FindInode(snapshot, client.inode);
  const Socket* s = FindInode(snapshot, server.inode);
  ASSERT_TRUE(c && s);
  EXPECT_EQ(c->state, SocketState::kEstablished);
  EXPECT_EQ(s->state, SocketState::kEstablished);
  EXPECT_EQ(c->remote.port, listener.port);
  EXPECT_EQ(s->local.port, listener.port);
  EXPECT_EQ(s->remote.port, c->local.port);
  EXPECT_EQ(c->direction, Direction::kLocal);
  EXPECT_EQ(c->service_port, listener.port);
  EXPECT_EQ(s->service_port, listener.port);
  EXPECT_NE(c->cookie, s->cookie);
}

TEST(LinuxCollector, FindsUdpSockets) {
  TestSocket bound = Bind(AF_INET, SOCK_DGRAM, "0.0.0.0");
  TestSocket bound6 = Bind(AF_INET6, SOCK_DGRAM, "::1");
  const Snapshot snapshot = Collect();
  const Socket* v4 = FindInode(snapshot, bound.inode);
  const Socket* v6 = FindInode(snapshot, bound6.inode);
  ASSERT_TRUE(v4 && v6);
  EXPECT_EQ(v4->protocol, Protocol::kUdp);
  EXPECT_EQ(v4->state, SocketState::kClose);
  EXPECT_EQ(v4->local.port, bound.port);
  EXPECT_EQ(v4->exposure, Exposure::kAll);
  EXPECT_EQ(v4->direction, Direction::kListen);
  EXPECT_EQ(v6->family, Family::kIpv6);
  EXPECT_EQ(v6->local.port, bound6.port);
}

TEST(LinuxCollector, FindsRawAndPacketSocketsWithTheirOwner) {
  Fd raw(socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP));
  Fd raw6(socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6));
  Fd packet(socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL)));
  ASSERT_GE(raw.get(), 0) << "raw sockets need root";
  ASSERT_GE(packet.get(), 0);
  const Snapshot snapshot = Collect();
  const Socket* icmp = FindInode(snapshot, InodeOf(raw));
  const Socket* icmp6 = FindInode(snapshot, InodeOf(raw6));
  const Socket* sniffer = FindInode(snapshot, InodeOf(packet));
  ASSERT_TRUE(icmp && icmp6 && sniffer);
  EXPECT_EQ(icmp->protocol, Protocol::kRaw);
  EXPECT_EQ(icmp->protocol_number, IPPROTO_ICMP);
  EXPECT_EQ(icmp6->protocol_number, IPPROTO_ICMPV6);
  EXPECT_EQ(sniffer->protocol, Protocol::kPacket);
  EXPECT_EQ(sniffer->protocol_number, ETH_P_ALL);
  EXPECT_EQ(OwnerPids(snapshot, *sniffer), std::vector<int32_t>{getpid()});
  EXPECT_EQ(OwnerPids(snapshot, *icmp), std::vector<int32_t>{getpid()});
}

TEST(LinuxCollector, NamesTheChildThatHoldsASocket) {
  // The listener is handed to a child and closed here, so only the child holds it.
  TestSocket listener = Listen(AF_INET, "127.0.0.1");
  ChildProcess child([] {});
  listener.fd.Reset();
  const Snapshot snapshot = Collect();
  const Socket* socket = FindInode(snapshot, listener.inode);
  ASSERT_NE(socket, nullptr);
  EXPECT_EQ(OwnerPids(snapshot, *socket), std::vector<int32_t>{child.pid()});
  EXPECT_EQ(snapshot.PrimaryOwner(*socket)->ppid, getpid());
}

TEST(LinuxCollector, KeepsEveryOwnerOfASharedSocketWithTheParentFirst) {
  TestSocket listener = Listen(AF_INET, "127.0.0.1");
  ChildProcess child([] {});
  const Snapshot snapshot = Collect();
  const Socket* socket = FindInode(snapshot, listener.inode);
  ASSERT_NE(socket, nullptr);
  const std::vector<int32_t> pids = OwnerPids(snapshot, *socket);
  ASSERT_EQ(pids.size(), 2u);
  EXPECT_EQ(pids.front(), std::min(getpid(), child.pid()));
  EXPECT_THAT(pids, UnorderedElementsAre(getpid(), child.pid()));
}

TEST(LinuxCollector, OneProcessWithASocketOnSeveralDescriptorsIsOneOwner) {
  // A reverse shell: the socket on stdin, stdout and stderr of one process ("bash +2" before).
  TestSocket listener = Listen(AF_INET, "127.0.0.1");
  const int fd = listener.fd.get();
  ChildProcess child([fd] {
    for (int target = 0; target < 3; ++target) dup2(fd, target);
    close(fd);
  });
  listener.fd.Reset();
  const Snapshot snapshot = Collect();
  const Socket* socket = FindInode(snapshot, listener.inode);
  ASSERT_NE(socket, nullptr);
  EXPECT_EQ(OwnerPids(snapshot, *socket), std::vector<int32_t>{child.pid()});
  EXPECT_EQ(socket->owner_count, 1u);
}

// What the exec test's child runs on SIGUSR1 (set before the fork).
int exec_fd = -1;
const char* exec_path = nullptr;
void ExecOnSignal(int) {
  fcntl(exec_fd, F_SETFD, 0);  // the listener is kept across the exec
  execl(exec_path, "innocent", "1000", static_cast<char*>(nullptr));
  _exit(127);
}

// The attack of issue 16: a process holding a listener execs into another binary (a copy of sleep
// in a temp directory). Pid and start time stay; the next snapshot must show the new executable,
// whether the collector scans /proc again or reuses its last owner scan (an exec changes neither
// the pids nor the sockets).
TEST(LinuxCollector, AnOwnerThatExecsIsShownAsItsNewExecutableAtTheNextSnapshot) {
  OwnNamespaces own(OwnNamespaces::Scope::kNetwork);
  TempDir dir;
  const std::string copy = dir.path() + "/innocent";
  std::filesystem::copy_file("/bin/sleep", copy);
  std::filesystem::permissions(copy, std::filesystem::perms::owner_all);
  TestSocket listener = Listen(AF_INET, "0.0.0.0");
  exec_fd = listener.fd.get();
  exec_path = copy.c_str();
  // The child holds the listener and execs when told (SIGUSR1: execve is async-signal-safe).
  ChildProcess child([] { signal(SIGUSR1, ExecOnSignal); });
  listener.fd.Reset();

  std::unique_ptr<Collector> collector = MakeCollector({});
  for (int pass = 0; pass < 2; ++pass) {  // the second pass serves the owner from the cache
    Result<Snapshot> before = collector->Collect();
    ASSERT_TRUE(before.ok()) << before.error().message;
    const Socket* socket = FindInode(*before, listener.inode);
    ASSERT_NE(socket, nullptr);
    ASSERT_NE(before->PrimaryOwner(*socket), nullptr);
    EXPECT_NE(before->PrimaryOwner(*socket)->exe, copy);
  }

  ASSERT_EQ(kill(child.pid(), SIGUSR1), 0);
  const std::string exe_link = "/proc/" + std::to_string(child.pid()) + "/exe";
  ASSERT_TRUE(WaitFor(
      [&] {
        std::error_code error;
        return std::filesystem::read_symlink(exe_link, error) == copy;
      },
      std::chrono::seconds(5)));

  Result<Snapshot> after = collector->Collect();
  ASSERT_TRUE(after.ok()) << after.error().message;
  const Socket* socket = FindInode(*after, listener.inode);
  ASSERT_NE(socket, nullptr);
  const Process* owner = after->PrimaryOwner(*socket);
  ASSERT_NE(owner, nullptr);
  struct stat file;
  ASSERT_EQ(stat(copy.c_str(), &file), 0);
  EXPECT_EQ(owner->pid, child.pid());
  EXPECT_EQ(owner->exe, copy);
  EXPECT_EQ(owner->name, "innocent");
  EXPECT_EQ(owner->cmdline, "innocent 1000");
  EXPECT_EQ(owner->exe_inode, static_cast<uint64_t>(file.st_ino));
  EXPECT_EQ(owner->exe_device, static_cast<uint64_t>(file.st_dev));
}

TEST(LinuxCollector, TimeWaitSocketsAreKernelOwned) {
  TestSocket listener = Listen(AF_INET, "127.0.0.1");
  TestSocket client = ConnectLoopback(listener.port);
  TestSocket server = Accept(listener);
  const uint16_t client_port = client.port;
  client.fd.Reset();  // the active closer ends in TIME_WAIT
  server.fd.Reset();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const Snapshot snapshot = Collect();
  const auto it =
      std::find_if(snapshot.sockets.begin(), snapshot.sockets.end(), [&](const Socket& s) {
        return s.protocol == Protocol::kTcp && s.local.port == client_port &&
               s.remote.port == listener.port;
      });
  ASSERT_NE(it, snapshot.sockets.end());
  EXPECT_EQ(it->state, SocketState::kTimeWait);
  EXPECT_EQ(it->inode, 0u);
  EXPECT_EQ(it->owner_status, OwnerStatus::kKernel);
  EXPECT_EQ(it->owner_count, 0u);
}

TEST(LinuxCollector, ProcFallbackSeesTheSameSockets) {
  TestSocket listener = Listen(AF_INET, "127.0.0.1");
  TestSocket listener6 = Listen(AF_INET6, "::1");
  TestSocket udp = Bind(AF_INET, SOCK_DGRAM, "127.0.0.1");
  CollectorOptions options;
  options.force_proc_fallback = true;
  const Snapshot fallback = Collect(options);
  for (const TestSocket* ours : {&listener, &listener6, &udp}) {
    const Socket* socket = FindInode(fallback, ours->inode);
    ASSERT_NE(socket, nullptr);
    EXPECT_EQ(socket->local.port, ours->port);
    EXPECT_EQ(socket->cookie, 0u);  // /proc/net has no cookies
    EXPECT_EQ(OwnerPids(fallback, *socket), std::vector<int32_t>{getpid()});
  }
  // Packet sockets need sock_diag: the snapshot says so instead of silently leaving them out.
  EXPECT_NE(
      std::find_if(fallback.warnings.begin(), fallback.warnings.end(),
                   [](const std::string& w) { return w.find("packet") != std::string::npos; }),
      fallback.warnings.end());
}

TEST(LinuxCollector, ProtocolSelectionSkipsOtherTables) {
  TestSocket tcp = Listen(AF_INET, "127.0.0.1");
  TestSocket udp = Bind(AF_INET, SOCK_DGRAM, "127.0.0.1");
  CollectorOptions options;
  options.tcp = false;
  options.raw = false;
  options.packet = false;
  options.owners = false;
  const Snapshot snapshot = Collect(options);
  EXPECT_EQ(FindInode(snapshot, tcp.inode), nullptr);
  const Socket* socket = FindInode(snapshot, udp.inode);
  ASSERT_NE(socket, nullptr);
  EXPECT_EQ(socket->owner_status, OwnerStatus::kNotCollected);
  EXPECT_TRUE(snapshot.processes.empty());
  for (const Socket& s : snapshot.sockets) EXPECT_EQ(s.protocol, Protocol::kUdp);
}

TEST(LinuxCollector, ReadsOnlyItsOwnNetworkNamespace) {
  TestSocket here = Listen(AF_INET, "127.0.0.1");
  const Snapshot outside = Collect();
  // A child in a new network namespace sees its own listener, and not ours.
  int report[2];
  ASSERT_EQ(pipe(report), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(report[0]);
    if (unshare(CLONE_NEWNET) != 0) _exit(10);
    TestSocket inside = Listen(AF_INET, "0.0.0.0");
    Result<Snapshot> snapshot = MakeCollector({})->Collect();
    if (!snapshot.ok()) _exit(11);
    const bool sees_own = FindInode(*snapshot, inside.inode) != nullptr;
    const bool sees_ours = FindInode(*snapshot, here.inode) != nullptr;
    const uint64_t netns = snapshot->netns;
    (void)!write(report[1], &netns, sizeof(netns));
    _exit(sees_own && !sees_ours ? 0 : 12);
  }
  close(report[1]);
  uint64_t child_netns = 0;
  EXPECT_EQ(read(report[0], &child_netns, sizeof(child_netns)),
            static_cast<ssize_t>(sizeof(child_netns)));
  close(report[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_NE(child_netns, 0u);
  EXPECT_NE(child_netns, outside.netns);
  for (const Socket& socket : outside.sockets) EXPECT_EQ(socket.netns, outside.netns);
}

TEST(LinuxCollector, UnprivilegedUsersGetNoPermissionNotAWrongAnswer) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to drop to another user";
  TestSocket root_listener = Listen(AF_INET, "127.0.0.1");
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    root_listener.fd.Reset();  // only the (root) test process holds it now
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) _exit(10);
    Result<Snapshot> snapshot = MakeCollector({})->Collect();
    if (!snapshot.ok()) _exit(11);
    const Socket* socket = FindInode(*snapshot, root_listener.inode);
    if (socket == nullptr) _exit(12);
    if (socket->owner_status != OwnerStatus::kNoPermission) _exit(13);
    const bool warned = std::any_of(
        snapshot->warnings.begin(), snapshot->warnings.end(),
        [](const std::string& w) { return w.find("CAP_SYS_PTRACE") != std::string::npos; });
    _exit(warned ? 0 : 14);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(LinuxCollector, ABadProcRootIsAClearError) {
  CollectorOptions options;
  options.proc_root = "/nonexistent/proc";
  Result<Snapshot> snapshot = MakeCollector(options)->Collect();
  ASSERT_FALSE(snapshot.ok());
  EXPECT_NE(snapshot.error().message.find("/nonexistent/proc"), std::string::npos);
}

TEST(LinuxCollector, ReusesTheOwnerScanOnlyWhileNothingChanged) {
  // One collector, as the agent keeps: while no process starts or exits and no socket appears,
  // the last /proc scan still tells the owners (other tests may start processes meanwhile, so a
  // quiet moment is waited for).
  std::unique_ptr<Collector> collector = MakeCollector({});
  TestSocket listener = Listen(AF_INET, "127.0.0.1");
  bool reused = false;
  for (int attempt = 0; attempt < 100 && !reused; ++attempt) {
    Result<Snapshot> first = collector->Collect();
    Result<Snapshot> second = collector->Collect();
    ASSERT_TRUE(first.ok() && second.ok());
    reused = second->owners_reused;
    const Socket* socket = FindInode(*second, listener.inode);
    ASSERT_NE(socket, nullptr);
    EXPECT_EQ(OwnerPids(*second, *socket), std::vector<int32_t>{getpid()});
  }
  EXPECT_TRUE(reused) << "no two snapshots in a row without a process starting or exiting";

  // A new socket in a running process is not in the last scan: scanned again, owner found.
  TestSocket fresh = Listen(AF_INET, "127.0.0.1");
  Result<Snapshot> after_socket = collector->Collect();
  ASSERT_TRUE(after_socket.ok());
  EXPECT_FALSE(after_socket->owners_reused);
  const Socket* socket = FindInode(*after_socket, fresh.inode);
  ASSERT_NE(socket, nullptr);
  EXPECT_EQ(OwnerPids(*after_socket, *socket), std::vector<int32_t>{getpid()});

  // The listener handed to a new process: the process list changed, so its owner is the child.
  ChildProcess child([] {});
  listener.fd.Reset();
  Result<Snapshot> after_child = collector->Collect();
  ASSERT_TRUE(after_child.ok());
  EXPECT_FALSE(after_child->owners_reused);
  const Socket* handed = FindInode(*after_child, listener.inode);
  ASSERT_NE(handed, nullptr);
  EXPECT_EQ(OwnerPids(*after_child, *handed), std::vector<int32_t>{child.pid()});
}

}  // namespace
}  // namespace portwatch::collectors
