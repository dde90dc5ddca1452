// End-to-end tests of the built portwatch binary against real sockets on loopback.
//
// Every socket is bound to port 0, so test processes running in parallel never collide. Sockets
// that must show another process as their owner are handed to a child process (SocketHolder).

#include <dirent.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/support/portwatch_cli.h"
#include "tests/support/sockets.h"
#include "tests/support/subprocess.h"

namespace portwatch::agent {
namespace {

using nlohmann::json;
using portwatch::testing::Accept;
using portwatch::testing::Bind;
using portwatch::testing::BindTo;
using portwatch::testing::ChildProcess;
using portwatch::testing::CommandResult;
using portwatch::testing::ConnectLoopback;
using portwatch::testing::Describe;
using portwatch::testing::ExpectJsonArray;
using portwatch::testing::Fd;
using portwatch::testing::FindInode;
using portwatch::testing::Lines;
using portwatch::testing::Listen;
using portwatch::testing::ParseJson;
using portwatch::testing::Portwatch;
using portwatch::testing::Record;
using portwatch::testing::RunCommand;
using portwatch::testing::TestSocket;
using ::testing::UnorderedElementsAre;

std::vector<std::string> Words(const std::string& line) {
  std::vector<std::string> words;
  std::istringstream stream(line);
  for (std::string word; stream >> word;) words.push_back(word);
  return words;
}

// The first line of text that starts with prefix, or "" when there is none.
std::string LineStartingWith(const std::string& text, const std::string& prefix) {
  for (const std::string& line : Lines(text)) {
    if (line.starts_with(prefix)) return line;
  }
  return "";
}

std::string CurrentUser() {
  const passwd* entry = getpwuid(geteuid());
  return entry ? entry->pw_name : std::to_string(geteuid());
}

// The README's port categories, written out independently of the product code.
std::string CategoryOf(uint16_t port) {
  if (port < 1024) return "well-known";
  if (port < 49152) return "registered";
  return "dynamic";
}

// A port that nothing held a moment ago.
uint16_t FreePort() { return Bind(AF_INET, SOCK_STREAM, "127.0.0.1").port; }

// What `who` may say on stderr as root: nothing, except where the machine hides a process's
// descriptors even from root (a sandbox's own init), and then only the warning that says so.
void ExpectNoWarningButHiddenProcesses(const std::string& err) {
  if (err.empty()) return;
  EXPECT_THAT(err, ::testing::MatchesRegex("portwatch who: warning: [0-9]+ processes' "
                                           "descriptors could not be read; [^\n]*\n"));
}

// A child process that holds sockets the test opened. Unless they are shared, the test closes its
// own copies, so the child is their only owner. The child names itself uniquely, so that
// --process finds it and nothing else, and closes every other socket it inherited, so that the
// test's own sockets keep the test as their only owner.
class SocketHolder {
 public:
  enum class Mode { kHandOver, kShare };

  explicit SocketHolder(const std::vector<TestSocket*>& sockets, Mode mode = Mode::kHandOver)
      : name_(UniqueName()), keep_(Descriptors(sockets)), child_([this] { KeepOnlyOurSockets(); }) {
    if (mode == Mode::kHandOver) {
      for (TestSocket* socket : sockets) socket->fd.Reset();
    }
  }

  pid_t pid() const { return child_.pid(); }
  const std::string& name() const { return name_; }

 private:
  static std::string UniqueName() {
    static int count = 0;
    // comm holds at most 15 characters: 6 + 7 digits of pid + 2.
    return "pwhold" + std::to_string(getpid()) + std::to_string(count++ % 100);
  }

  static std::vector<int> Descriptors(const std::vector<TestSocket*>& sockets) {
    std::vector<int> fds;
    for (const TestSocket* socket : sockets) fds.push_back(socket->fd.get());
    return fds;
  }

  // Runs in the child.
  void KeepOnlyOurSockets() const {
    prctl(PR_SET_NAME, name_.c_str());
    std::vector<int> others;
    DIR* dir = opendir("/proc/self/fd");
    if (dir == nullptr) _exit(1);
    while (const dirent* entry = readdir(dir)) {
      if (entry->d_name[0] == '.') continue;
      const int fd = std::atoi(entry->d_name);
      struct stat info {};
      if (fd == dirfd(dir) || fstat(fd, &info) != 0 || !S_ISSOCK(info.st_mode)) continue;
      if (std::find(keep_.begin(), keep_.end(), fd) == keep_.end()) others.push_back(fd);
    }
    closedir(dir);
    for (int fd : others) close(fd);
  }

  const std::string name_;
  const std::vector<int> keep_;
  ChildProcess child_;
};

// `portwatch snapshot --json` with extra flags; expects success and a JSON array.
json SnapshotJson(std::vector<std::string> flags = {}) {
  flags.insert(flags.begin(), {"snapshot", "--json"});
  return ExpectJsonArray(Portwatch(flags));
}

bool OwnedBy(const json& object, pid_t pid) {
  const json owners = object.value("owners", json::array());
  return std::find(owners.begin(), owners.end(), json(pid)) != owners.end();
}

// The first row that breaks the rule, for a failure message; empty when every row keeps it. The
// rule gets a copy, so that a missing key reads as null.
std::string RowBreaking(const json& sockets, const std::function<bool(json&)>& rule) {
  for (json row : sockets) {
    if (!rule(row)) return row.dump();
  }
  return "";
}

TEST(SnapshotCommand, JsonListsOurListenerWithItsOwner) {
  TestSocket listener = Listen(AF_INET, "127.0.0.1");
  const SocketHolder holder({&listener});
  json object = FindInode(SnapshotJson(), listener.inode);
  ASSERT_TRUE(object.is_object()) << "inode " << listener.inode << " not listed";
  EXPECT_EQ(object["proto"], "tcp");
  EXPECT_EQ(object["family"], "inet");
  EXPECT_EQ(object["state"], "LISTEN");
  EXPECT_EQ(object["local_addr"], "127.0.0.1");
  EXPECT_EQ(object["local_port"], listener.port);
  EXPECT_EQ(object["remote_addr"], "0.0.0.0");
  EXPECT_EQ(object["remote_port"], 0);
  EXPECT_EQ(object["pid"], holder.pid());
  EXPECT_EQ(object["ppid"], getpid());
  EXPECT_EQ(object["owners"], json::array({holder.pid()}));
  EXPECT_EQ(object["owner_status"], "known");
  EXPECT_EQ(object["process"], holder.name());
  EXPECT_EQ(object["user"], CurrentUser());
  EXPECT_EQ(object["uid"], geteuid());
  EXPECT_TRUE(object["exe"].is_string()) << object["exe"];
  EXPECT_EQ(object["exposure"], "loopback");
  EXPECT_EQ(object["direction"], "listen");
  EXPECT_EQ(object["remote_class"], "none");
  EXPECT_EQ(object["port_category"], CategoryOf(listener.port));
  EXPECT_EQ(object["service_port"], listener.port);
}

TEST(SnapshotCommand, JsonShowsADualStackListenerAsExposedToAll) {
  TestSocket listener = Listen(AF_INET6, "::", /*v6only=*/false);
  const SocketHolder holder({&listener});
  json object = FindInode(SnapshotJson({"--tcp"}), listener.inode);
  ASSERT_TRUE(object.is_object()) << "inode " << listener.inode << " not listed";
  EXPECT_EQ(object["family"], "inet6");
  EXPECT_EQ(object["local_addr"], "::");
  EXPECT_EQ(object["local_port"], listener.port);
  EXPECT_EQ(object["v6only"], false);
  EXPECT_EQ(object["exposure"], "all");
  EXPECT_EQ(object["state"], "LISTEN");
  EXPECT_EQ(object["pid"], holder.pid());
}

TEST(SnapshotCommand, JsonShowsABoundUdpSocketAsUnconnected) {
  TestSocket udp = Bind(AF_INET, SOCK_DGRAM, "127.0.0.1");
  const SocketHolder holder({&udp});
  json object = FindInode(SnapshotJson({"--udp"}), udp.inode);
  ASSERT_TRUE(object.is_object()) << "inode " << udp.inode << " not listed";
  EXPECT_EQ(object["proto"], "udp");
  EXPECT_EQ(object["state"], "UNCONN");
  EXPECT_EQ(object["local_addr"], "127.0.0.1");
  EXPECT_EQ(object["local_port"], udp.port);
  EXPECT_EQ(object["direction"], "listen");
  EXPECT_EQ(object["exposure"], "loopback");
  EXPECT_EQ(object["pid"], holder.pid());
}

TEST(SnapshotCommand, JsonShowsAnEstablishedLoopbackPairAsLocal) {
  TestSocket listener = Listen(AF_INET, "127.0.0.1");
  TestSocket client = ConnectLoopback(listener.port);
  TestSocket server = Accept(listener);
  const json sockets = SnapshotJson({"--tcp"});
  json client_object = FindInode(sockets, client.inode);
  json server_object = FindInode(sockets, server.inode);
  ASSERT_TRUE(client_object.is_object()) << "client not listed";
  ASSERT_TRUE(server_object.is_object()) << "server not listed";
  for (json* object : {&client_object, &server_object}) {
    EXPECT_EQ((*object)["state"], "ESTABLISHED");
    EXPECT_EQ((*object)["direction"], "local");
    EXPECT_EQ((*object)["remote_class"], "loopback");
    EXPECT_EQ((*object)["remote_addr"], "127.0.0.1");
    EXPECT_EQ((*object)["pid"], getpid());
    EXPECT_EQ((*object)["service_port"], listener.port);
  }
  EXPECT_EQ(client_object["remote_port"], listener.port);
  EXPECT_EQ(client_object["local_port"], server_object["remote_port"]);
  EXPECT_EQ(server_object["local_port"], listener.port);
}

TEST(SnapshotCommand, JsonListsEveryOwnerOfASharedSocket) {
  TestSocket listener = Listen(AF_INET, "127.0.0.1");
  const SocketHolder holder({&listener}, SocketHolder::Mode::kShare);
  json object = FindInode(SnapshotJson({"--port", std::to_string(listener.port)}), listener.inode);
  ASSERT_TRUE(object.is_object()) << "inode " << listener.inode << " not listed";
  ASSERT_TRUE(object["owners"].is_array());
  const std::vector<pid_t> owners = object["owners"].get<std::vector<pid_t>>();
  ASSERT_EQ(owners.size(), 2u) << object["owners"];
  EXPECT_EQ(object["pid"], owners.front()) << "pid is the primary owner, listed first";
  EXPECT_THAT(owners, UnorderedElementsAre(getpid(), holder.pid()));
}

TEST(SnapshotCommand, NoOwnersSkipsTheOwnerLookup) {
  TestSocket listener = Listen(AF_INET, "127.0.0.1");
  json object = FindInode(SnapshotJson({"--no-owners", "--port", std::to_string(listener.port)}),
                          listener.inode);
  ASSERT_TRUE(object.is_object()) << "inode " << listener.inode << " not listed";
  EXPECT_TRUE(object["pid"].is_null()) << object["pid"];
  EXPECT_TRUE(object["process"].is_null()) << object["process"];
  EXPECT_EQ(object["owners"], json::array());
  EXPECT_EQ(object["owner_status"], "not-collected");
}

TEST(SnapshotCommand, TableHasAHeaderAndARowForOurListener) {
  TestSocket listener = Listen(AF_INET, "127.0.0.1");
  const SocketHolder holder({&listener});
  const CommandResult result = Portwatch({"snapshot"});
  ASSERT_EQ(result.exit_code, 0) << Describe(result);
  const std::vector<std::string> lines = Lines(result.out);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(Words(lines[0]),
            (std::vector<std::string>{"PROTO", "STATE", "LOCAL", "PEER", "PID", "PROCESS", "USER",
                                      "SERVICE", "CATEGORY", "EXPOSURE"}));
  const std::string local = "127.0.0.1:" + std::to_string(listener.port);
  std::vector<std::string> row;
  for (const std::string& line : lines) {
    std::vector<std::string> words = Words(line);
    if (words.size() > 2 && words[0] == "tcp" && words[2] == local) row = std::move(words);
  }
  ASSERT_FALSE(row.empty()) << "no row for " << local << "\n" << Describe(result);
  ASSERT_EQ(row.size(), 10u) << "unexpected columns";
  EXPECT_EQ(row[1], "LISTEN");
  EXPECT_EQ(row[3], "*:*");
  EXPECT_EQ(row[4], std::to_string(holder.pid()));
  EXPECT_EQ(row[5], holder.name());
  EXPECT_EQ(row[6], CurrentUser());
  EXPECT_EQ(row[8], CategoryOf(listener.port));
  EXPECT_EQ(row[9], "loopback");
}

TEST(SnapshotCommand, TableMarksASharedSocketWithTheOtherOwnersCount) {
  TestSocket listener = Listen(AF_INET, "127.0.0.1");
  const SocketHolder holder({&listener}, SocketHolder::Mode::kShare);
  const CommandResult result = Portwatch({"snapshot", "--port", std::to_string(listener.port)});
  ASSERT_EQ(result.exit_code, 0) << Describe(result);
  const std::string local = "127.0.0.1:" + std::to_string(listener.port);
  std::string row;
  for (const std::string& line : Lines(result.out)) {
    if (line.find(" " + local + " ") != std::string::npos) row = line;
  }
  ASSERT_FALSE(row.empty()) << "no row for " << local << "\n" << Describe(result);
  EXPECT_NE(row.find(" +1 "), std::string::npos) << row;
}

// Our sockets in every filter test: a TCP listener and a UDP socket held by a child, and a TCP
// listener with an established connection to it held by the test itself.
class SnapshotFilter : public ::testing::Test {
 protected:
  void SetUp() override {
    child_listener_ = Listen(AF_INET, "127.0.0.1");
    child_udp_ = Bind(AF_INET, SOCK_DGRAM, "127.0.0.1");
    holder_ = std::make_unique<SocketHolder>(std::vector{&child_listener_, &child_udp_});
    own_listener_ = Listen(AF_INET, "127.0.0.1");
    client_ = ConnectLoopback(own_listener_.port);
    server_ = Accept(own_listener_);
  }

  // Which of our sockets `snapshot --json flags` lists, by name, in a fixed order.
  std::string Ours(const json& sockets) const {
    const std::pair<const char*, const TestSocket*> ours[] = {
        {"child_listener", &child_listener_},
        {"child_udp", &child_udp_},
        {"own_listener", &own_listener_},
        {"client", &client_},
        {"server", &server_},
    };
    std::string listed;
    for (const auto& [name, socket] : ours) {
      if (FindInode(sockets, socket->inode).is_null()) continue;
      listed += listed.empty() ? "" : " ";
      listed += name;
    }
    return listed;
  }

  std::string Port(const TestSocket& socket) const { return std::to_string(socket.port); }

  TestSocket child_listener_, child_udp_, own_listener_, client_, server_;
  std::unique_ptr<SocketHolder> holder_;
};

TEST_F(SnapshotFilter, ListeningShowsOnlyListeners) {
  for (const char* flag : {"--listening", "-l"}) {
    const json sockets = SnapshotJson({flag});
    EXPECT_EQ(Ours(sockets), "child_listener child_udp own_listener") << flag;
    EXPECT_EQ(RowBreaking(sockets,
                          [](json& row) {
                            return row["direction"] == "listen" || row["proto"] == "raw" ||
                                   row["proto"] == "packet";
                          }),
              "");
  }
}

TEST_F(SnapshotFilter, TcpShowsOnlyTcp) {
  const json sockets = SnapshotJson({"--tcp"});
  EXPECT_EQ(Ours(sockets), "child_listener own_listener client server");
  EXPECT_EQ(RowBreaking(sockets, [](json& row) { return row["proto"] == "tcp"; }), "");
}

TEST_F(SnapshotFilter, UdpShowsOnlyUdp) {
  const json sockets = SnapshotJson({"--udp"});
  EXPECT_EQ(Ours(sockets), "child_udp");
  EXPECT_EQ(RowBreaking(sockets, [](json& row) { return row["proto"] == "udp"; }), "");
}

TEST_F(SnapshotFilter, ProtocolFlagsCombineIntoTheirUnion) {
  const json sockets = SnapshotJson({"-t", "-u"});
  EXPECT_EQ(Ours(sockets), "child_listener child_udp own_listener client server");
  EXPECT_EQ(RowBreaking(sockets,
                        [](json& row) { return row["proto"] == "tcp" || row["proto"] == "udp"; }),
            "");
  EXPECT_EQ(Ours(SnapshotJson({"--listening", "--udp"})), "child_udp");
}

TEST_F(SnapshotFilter, PortMatchesTheLocalOrTheRemotePort) {
  const uint16_t port = own_listener_.port;
  const json sockets = SnapshotJson({"--port", Port(own_listener_)});
  EXPECT_EQ(Ours(sockets), "own_listener client server");
  EXPECT_EQ(RowBreaking(sockets,
                        [port](json& row) {
                          return row["local_port"] == port || row["remote_port"] == port;
                        }),
            "");
  EXPECT_EQ(Ours(SnapshotJson({"-p", Port(child_udp_)})), "child_udp");
}

TEST_F(SnapshotFilter, PidShowsOnlyThatProcessesSockets) {
  const pid_t child = holder_->pid();
  const json sockets = SnapshotJson({"--pid", std::to_string(child)});
  EXPECT_EQ(Ours(sockets), "child_listener child_udp");
  EXPECT_EQ(RowBreaking(sockets, [child](json& row) { return OwnedBy(row, child); }), "");

  const pid_t self = getpid();
  const json own = SnapshotJson({"--pid", std::to_string(self)});
  EXPECT_EQ(Ours(own), "own_listener client server");
  EXPECT_EQ(RowBreaking(own, [self](json& row) { return OwnedBy(row, self); }), "");
}

TEST_F(SnapshotFilter, ProcessShowsOnlyThatProcessesSockets) {
  const pid_t child = holder_->pid();
  const json sockets = SnapshotJson({"--process", holder_->name()});
  EXPECT_EQ(Ours(sockets), "child_listener child_udp");
  EXPECT_EQ(RowBreaking(sockets, [child](json& row) { return OwnedBy(row, child); }), "");
  EXPECT_EQ(SnapshotJson({"--process", holder_->name().substr(0, 6)}), json::array())
      << "names match exactly, not by prefix";
}

TEST_F(SnapshotFilter, StateListenShowsOnlyListeningSockets) {
  const json sockets = SnapshotJson({"--state", "LISTEN"});
  EXPECT_EQ(Ours(sockets), "child_listener own_listener");
  EXPECT_EQ(RowBreaking(sockets, [](json& row) { return row["state"] == "LISTEN"; }), "");
}

TEST_F(SnapshotFilter, StateEstabShowsOnlyEstablishedSockets) {
  for (const char* state : {"estab", "ESTABLISHED"}) {
    const json sockets = SnapshotJson({"-s", state});
    EXPECT_EQ(Ours(sockets), "client server") << state;
    EXPECT_EQ(RowBreaking(sockets, [](json& row) { return row["state"] == "ESTABLISHED"; }), "");
  }
}

TEST_F(SnapshotFilter, StateUnconnShowsUnconnectedUdp) {
  EXPECT_EQ(Ours(SnapshotJson({"--state", "unconn", "--udp"})), "child_udp");
}

TEST_F(SnapshotFilter, FiltersCombine) {
  EXPECT_EQ(Ours(SnapshotJson({"--pid", std::to_string(holder_->pid()), "--tcp"})),
            "child_listener");
  EXPECT_EQ(Ours(SnapshotJson({"--port", Port(own_listener_), "--state", "LISTEN"})),
            "own_listener");
}

TEST(WhoCommand, NamesTheHolderOfALoopbackPort) {
  TestSocket listener = Listen(AF_INET, "127.0.0.1");
  const SocketHolder holder({&listener});
  const CommandResult result = Portwatch({"who", std::to_string(listener.port)});
  EXPECT_EQ(result.exit_code, 0) << Describe(result);
  ExpectNoWarningButHiddenProcesses(result.err);
  const std::string& out = result.out;
  EXPECT_NE(out.find("Port " + std::to_string(listener.port) + " is held by"), std::string::npos)
      << out;
  EXPECT_NE(out.find(holder.name() + " (pid " + std::to_string(holder.pid()) + ","),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("listening on 127.0.0.1:" + std::to_string(listener.port)), std::string::npos)
      << out;
  const std::string reachable = LineStartingWith(out, "Reachable from other hosts:");
  EXPECT_NE(reachable.find("loopback only"), std::string::npos) << out;
  EXPECT_NE(reachable.find("connection refused"), std::string::npos) << out;
  EXPECT_NE(out.find("Privileged: no"), std::string::npos) << out;
}

TEST(WhoCommand, SaysAPortBoundToEveryAddressListensOnAllInterfaces) {
  TestSocket listener = Listen(AF_INET, "0.0.0.0");
  const SocketHolder holder({&listener});
  const CommandResult result = Portwatch({"who", std::to_string(listener.port)});
  EXPECT_EQ(result.exit_code, 0) << Describe(result);
  EXPECT_NE(LineStartingWith(result.out, "Reachable from other hosts:")
                .find("yes, it listens on all interfaces"),
            std::string::npos)
      << result.out;
  EXPECT_NE(result.out.find("(pid " + std::to_string(holder.pid())), std::string::npos)
      << result.out;
  EXPECT_EQ(result.out.find("loopback only"), std::string::npos) << result.out;
}

TEST(WhoCommand, SaysADualStackListenerTakesIpv4AndIpv6) {
  TestSocket listener = Listen(AF_INET6, "::", /*v6only=*/false);
  const SocketHolder holder({&listener});
  const CommandResult result = Portwatch({"who", std::to_string(listener.port) + "/tcp"});
  EXPECT_EQ(result.exit_code, 0) << Describe(result);
  EXPECT_NE(result.out.find("listening on [::]:" + std::to_string(listener.port) +
                            " (tcp, all interfaces, IPv4 and IPv6)"),
            std::string::npos)
      << result.out;
}

TEST(WhoCommand, NamesEveryProcessSharingThePort) {
  TestSocket listener = Listen(AF_INET, "127.0.0.1");
  const SocketHolder holder({&listener}, SocketHolder::Mode::kShare);
  const std::string port = std::to_string(listener.port);
  const std::string listening = "listening on 127.0.0.1:" + port;

  const CommandResult text = Portwatch({"who", port});
  EXPECT_EQ(text.exit_code, 0) << Describe(text);
  for (const pid_t pid : {getpid(), holder.pid()}) {
    const size_t named = text.out.find("(pid " + std::to_string(pid) + ",");
    ASSERT_NE(named, std::string::npos) << pid << "\n" << text.out;
    EXPECT_NE(text.out.find(listening, named), std::string::npos) << pid << "\n" << text.out;
  }

  json answer = ParseJson(Portwatch({"who", port, "--json"}));
  ASSERT_TRUE(answer["holders"].is_array());
  ASSERT_EQ(answer["holders"].size(), 2u) << answer["holders"];
  std::vector<pid_t> pids;
  for (const json& entry : answer["holders"]) {
    pids.push_back(entry.value("pid", pid_t{0}));
    EXPECT_EQ(entry.value("listening", json::array()).size(), 1u) << entry;
  }
  EXPECT_THAT(pids, UnorderedElementsAre(getpid(), holder.pid()));
}

TEST(WhoCommand, CountsTheConnectionsOfTheHolder) {
  TestSocket listener = Listen(AF_INET, "127.0.0.1");
  TestSocket client = ConnectLoopback(listener.port);
  TestSocket server = Accept(listener);
  const CommandResult result = Portwatch({"who", std::to_string(listener.port)});
  EXPECT_EQ(result.exit_code, 0) << Describe(result);
  EXPECT_NE(result.out.find("(pid " + std::to_string(getpid())), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("1 connection in ESTABLISHED"), std::string::npos) << result.out;
}

TEST(WhoCommand, ExitsOneWhenNothingHoldsThePort) {
  const uint16_t port = FreePort();
  const CommandResult result = Portwatch({"who", std::to_string(port)});
  EXPECT_EQ(result.exit_code, 1) << Describe(result);
  ExpectNoWarningButHiddenProcesses(result.err);
  EXPECT_TRUE(result.out.starts_with("Nothing holds port " + std::to_string(port) + "."))
      << result.out;
}

TEST(WhoCommand, SaysAPortBelow1024IsPrivileged) {
  // A free privileged port: only root may bind one, which the tests are run as.
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  uint16_t port = 1023;
  while (port > 0 && !BindTo(fd.get(), AF_INET, "127.0.0.1", port)) --port;
  ASSERT_GT(port, 0) << "no free port below 1024 on 127.0.0.1 (the tests need root)";
  ASSERT_EQ(listen(fd.get(), 4), 0);
  TestSocket low = Record(std::move(fd));
  ASSERT_EQ(low.port, port);
  const SocketHolder holder({&low});

  const CommandResult text = Portwatch({"who", std::to_string(port)});
  EXPECT_EQ(text.exit_code, 0) << Describe(text);
  EXPECT_NE(text.out.find("(pid " + std::to_string(holder.pid())), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("Privileged: yes, port " + std::to_string(port) + " < 1024"),
            std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("permission denied"), std::string::npos) << text.out;

  const CommandResult result = Portwatch({"who", std::to_string(port), "--json"});
  json answer = ParseJson(result);
  EXPECT_EQ(answer["privileged"], true);
  EXPECT_EQ(answer["port_category"], "well-known");
}

TEST(WhoCommand, ProtocolSuffixRestrictsTheAnswerToThatProtocol) {
  // A TCP listener and a UDP socket on the same port number; retry when the UDP port is taken.
  TestSocket tcp;
  TestSocket udp;
  for (int attempt = 0; attempt < 20 && udp.fd.get() < 0; ++attempt) {
    tcp = Listen(AF_INET, "127.0.0.1");
    Fd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (BindTo(fd.get(), AF_INET, "127.0.0.1", tcp.port)) udp = Record(std::move(fd));
  }
  ASSERT_GE(udp.fd.get(), 0) << "no port free for both TCP and UDP";
  const std::string port = std::to_string(tcp.port);
  const SocketHolder holder({&tcp, &udp});

  // Which of the two sockets `who ARGUMENT --json` lists; every row it lists must have the port
  // and, when one is asked for, the protocol.
  const auto listed = [&](const std::string& argument, const std::string& protocol) {
    const CommandResult result = Portwatch({"who", argument, "--json"});
    EXPECT_EQ(result.exit_code, 0) << Describe(result);
    json answer = ParseJson(result);
    EXPECT_EQ(RowBreaking(answer["sockets"],
                          [&](json& row) {
                            return row["local_port"] == tcp.port &&
                                   (protocol.empty() || row["proto"] == protocol);
                          }),
              "")
        << argument;
    std::string found;
    if (FindInode(answer["sockets"], tcp.inode).is_object()) found += "tcp";
    if (FindInode(answer["sockets"], udp.inode).is_object()) found += "udp";
    return found;
  };
  EXPECT_EQ(listed(port + "/udp", "udp"), "udp");
  EXPECT_EQ(listed(port + "/tcp", "tcp"), "tcp");
  EXPECT_EQ(listed(port, ""), "tcpudp");

  const CommandResult text = Portwatch({"who", port + "/udp"});
  EXPECT_EQ(text.exit_code, 0) << Describe(text);
  EXPECT_NE(text.out.find("Port " + port + "/udp is held by"), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("(tcp,"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("(udp, loopback only)"), std::string::npos) << text.out;
}

TEST(WhoCommand, JsonAnswerDescribesThePortAndItsHolders) {
  TestSocket listener = Listen(AF_INET, "127.0.0.1");
  const SocketHolder holder({&listener});
  const std::string port = std::to_string(listener.port);
  const CommandResult result = Portwatch({"who", port, "--json"});
  EXPECT_EQ(result.exit_code, 0) << Describe(result);
  json answer = ParseJson(result);
  ASSERT_TRUE(answer.is_object()) << Describe(result);
  EXPECT_EQ(answer["port"], listener.port);
  EXPECT_TRUE(answer["protocol"].is_null());
  EXPECT_EQ(answer["held"], true);
  EXPECT_EQ(answer["listening"], true);
  EXPECT_EQ(answer["privileged"], false);
  EXPECT_EQ(answer["port_category"], CategoryOf(listener.port));
  EXPECT_EQ(answer["exposure"], "loopback");
  EXPECT_EQ(answer["reachable_from_other_hosts"], false);
  ASSERT_TRUE(answer["holders"].is_array());
  ASSERT_EQ(answer["holders"].size(), 1u) << answer["holders"];
  json holder_object = answer["holders"][0];
  EXPECT_EQ(holder_object["pid"], holder.pid());
  EXPECT_EQ(holder_object["process"], holder.name());
  EXPECT_EQ(holder_object["user"], CurrentUser());
  EXPECT_EQ(holder_object["owner_status"], "known");
  EXPECT_EQ(holder_object["listening"],
            json::array({"127.0.0.1:" + port + " (tcp, loopback only)"}));
  EXPECT_EQ(holder_object["connections"], 0);
  ASSERT_TRUE(answer["sockets"].is_array());
  EXPECT_TRUE(FindInode(answer["sockets"], listener.inode).is_object()) << answer["sockets"];
}

TEST(WhoCommand, JsonAnswerForAFreePortHoldsNothing) {
  const uint16_t port = FreePort();
  const CommandResult result = Portwatch({"who", std::to_string(port) + "/tcp", "--json"});
  EXPECT_EQ(result.exit_code, 1) << Describe(result);
  json answer = ParseJson(result);
  EXPECT_EQ(answer["port"], port);
  EXPECT_EQ(answer["protocol"], "tcp");
  EXPECT_EQ(answer["held"], false);
  EXPECT_EQ(answer["listening"], false);
  EXPECT_EQ(answer["exposure"], "none");
  EXPECT_EQ(answer["holders"], json::array());
  EXPECT_EQ(answer["sockets"], json::array());
}

struct BadInputCase {
  const char* name;
  std::vector<std::string> args;
  const char* names;  // the part of the message that names the problem
};

// Shown by GoogleTest and ctest next to the test name.
void PrintTo(const BadInputCase& bad, std::ostream* out) {
  *out << "portwatch";
  for (const std::string& arg : bad.args) *out << ' ' << arg;
}

class BadInput : public ::testing::TestWithParam<BadInputCase> {};

TEST_P(BadInput, ExitsTwoWithOneLineNamingTheProblem) {
  const BadInputCase& bad = GetParam();
  const CommandResult result = Portwatch(bad.args);
  EXPECT_EQ(result.exit_code, 2) << Describe(result);
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
  EXPECT_TRUE(result.err.ends_with('\n')) << result.err;
  EXPECT_TRUE(result.err.starts_with("portwatch")) << result.err;
  EXPECT_NE(result.err.find(bad.names), std::string::npos) << result.err;
}

INSTANTIATE_TEST_SUITE_P(
    Cli, BadInput,
    ::testing::Values(
        BadInputCase{"WhoPortOutOfRange", {"who", "70000"}, "'70000' is out of range"},
        BadInputCase{"WhoPortNotANumber", {"who", "abc"}, "'abc' is not a port number"},
        BadInputCase{"WhoNegativePort", {"who", "-1"}, "'-1' is not a port number"},
        BadInputCase{"WhoUnknownProtocol", {"who", "22/sctp"}, "unknown protocol 'sctp'"},
        BadInputCase{"WhoWithoutPort", {"who"}, "port is required"},
        BadInputCase{"WhoTwoPorts", {"who", "22", "23"}, "23"},
        BadInputCase{"SnapshotPortOutOfRange", {"snapshot", "--port", "70000"}, "70000"},
        BadInputCase{"SnapshotPortWithProtocol", {"snapshot", "--port", "22/tcp"}, "22/tcp"},
        BadInputCase{"SnapshotUnknownState", {"snapshot", "--state", "bogus"}, "'bogus'"},
        BadInputCase{"SnapshotUnknownFlag", {"snapshot", "--bogus"}, "--bogus"},
        BadInputCase{"SnapshotNegativePid", {"snapshot", "--pid", "-3"}, "-3"},
        BadInputCase{"SnapshotPidNotANumber", {"snapshot", "--pid", "abc"}, "abc"},
        BadInputCase{"SnapshotEmptyPort", {"snapshot", "--port", ""}, "missing port number"},
        BadInputCase{"SnapshotEmptyState", {"snapshot", "--state", ""}, "unknown state ''"},
        BadInputCase{"UnknownCommand", {"bogus"}, "unknown command 'bogus'"},
        BadInputCase{"NoSubcommand", {}, "a command is required"}),
    [](const ::testing::TestParamInfo<BadInputCase>& test) { return test.param.name; });

TEST(Help, AppHelpListsTheSubcommandsAndFlags) {
  const CommandResult result = Portwatch({"--help"});
  EXPECT_EQ(result.exit_code, 0) << Describe(result);
  for (const char* expected : {"snapshot", "who", "--help", "--version", "--verbose"}) {
    EXPECT_NE(result.out.find(expected), std::string::npos) << expected << "\n" << result.out;
  }
}

TEST(Help, SnapshotHelpListsEveryFlag) {
  const CommandResult result = Portwatch({"snapshot", "--help"});
  EXPECT_EQ(result.exit_code, 0) << Describe(result);
  for (const char* expected :
       {"-l,--listening", "-t,--tcp", "-u,--udp", "-w,--raw", "-0,--packet", "-p,--port", "--pid",
        "--process", "-s,--state", "--json", "--no-owners"}) {
    EXPECT_NE(result.out.find(expected), std::string::npos) << expected << "\n" << result.out;
  }
}

TEST(Help, WhoHelpListsItsArgumentAndFlags) {
  const CommandResult result = Portwatch({"who", "--help"});
  EXPECT_EQ(result.exit_code, 0) << Describe(result);
  for (const char* expected : {"PORT/tcp", "PORT/udp", "--json", "Exit status"}) {
    EXPECT_NE(result.out.find(expected), std::string::npos) << expected << "\n" << result.out;
  }
}

// "portwatch 1.2.3" and whatever follows (a git description): "portwatch ", then three numbers
// separated by dots.
bool IsVersionLine(const std::string& text) {
  constexpr std::string_view kPrefix = "portwatch ";
  if (!text.starts_with(kPrefix)) return false;
  size_t at = kPrefix.size();
  for (int part = 0; part < 3; ++part) {
    if (part > 0 && (at >= text.size() || text[at++] != '.')) return false;
    const size_t digits = at;
    while (at < text.size() && std::isdigit(static_cast<unsigned char>(text[at]))) ++at;
    if (at == digits) return false;
  }
  return true;
}

TEST(Help, VersionPrintsTheProgramNameAndVersion) {
  for (const char* flag : {"--version", "-V"}) {
    const CommandResult result = Portwatch({flag});
    EXPECT_EQ(result.exit_code, 0) << Describe(result);
    EXPECT_TRUE(IsVersionLine(result.out)) << result.out;
    EXPECT_EQ(Lines(result.out).size(), 1u) << result.out;
  }
}

// The version is stamped at build time, not when CMake last configured: a binary built from a
// checkout names the commit it was built from (the check reads the checkout it was built in).
TEST(Help, VersionNamesTheCommitTheBinaryWasBuiltFrom) {
  const CommandResult head =
      RunCommand({"git", "-C", PORTWATCH_SOURCE_DIR, "rev-parse", "--short=10", "HEAD"});
  const CommandResult version = Portwatch({"--version"});
  ASSERT_EQ(version.exit_code, 0) << Describe(version);
  if (head.exit_code != 0) {
    // Built from a source tarball: the project version alone.
    EXPECT_EQ(version.out.find('('), std::string::npos) << version.out;
    return;
  }
  const std::string commit = head.out.substr(0, head.out.find('\n'));
  EXPECT_NE(version.out.find(commit), std::string::npos)
      << version.out << "does not name HEAD " << commit << ": rebuild, or the stamp is stale";
}

}  // namespace
}  // namespace portwatch::agent
