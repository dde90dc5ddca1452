// Least privilege: portwatch as an unprivileged user holding only CAP_DAC_READ_SEARCH and
// CAP_SYS_PTRACE — what packaging/systemd/portwatch.service grants — sees the owner of another
// user's socket; with either capability alone, or none, it reports the owner as no-permission.
//
// CAP_DAC_READ_SEARCH lists another user's /proc/PID/fd (a directory of mode 0500); CAP_SYS_PTRACE
// reads the links in it and /proc/PID/exe (a ptrace read-access check). The commands run under
// setpriv, as systemd runs the service: a new uid and gid, no supplementary groups, the
// capabilities in the ambient set and nothing else in the bounding set. Needs root.

#include <gtest/gtest.h>
#include <httplib.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/portwatch_cli.h"
#include "tests/support/recording.h"
#include "tests/support/sockets.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait_for.h"

namespace portwatch {
namespace {

using nlohmann::json;
using testing::ChildProcess;
using testing::Describe;
using testing::ExpectJsonArray;
using testing::FindInode;
using testing::Listen;
using testing::Recording;
using testing::RunCommand;
using testing::TempDir;
using testing::TestSocket;
using testing::WaitFor;
using namespace std::chrono_literals;

constexpr const char* kSetpriv = "/usr/bin/setpriv";
constexpr uid_t kNobody = 65534;
constexpr uid_t kDaemon = 1;  // the holder of the socket: neither nobody nor root
// The unit's AmbientCapabilities= and CapabilityBoundingSet=, as setpriv names them.
const std::vector<std::string> kServiceCapabilities = {"dac_read_search", "sys_ptrace"};
// The same as bits of /proc/PID/status: CAP_DAC_READ_SEARCH is 2, CAP_SYS_PTRACE 19.
constexpr uint64_t kServiceCapabilityBits = (uint64_t{1} << 2) | (uint64_t{1} << 19);

// setpriv and its flags that run a command as nobody:nogroup holding exactly `capabilities`.
std::vector<std::string> AsNobodyWith(const std::vector<std::string>& capabilities) {
  std::string set = "-all";
  for (const std::string& capability : capabilities) set += ",+" + capability;
  return {kSetpriv,
          "--reuid=65534",
          "--regid=65534",
          "--clear-groups",
          "--inh-caps=" + set,
          "--ambient-caps=" + set,
          "--bounding-set=" + set,
          "--"};
}

std::string UserName(uid_t uid) {
  const passwd* entry = getpwuid(uid);
  return entry != nullptr ? entry->pw_name : std::to_string(uid);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A field of /proc/PID/status such as CapEff, read as hex.
uint64_t CapabilitySet(pid_t pid, const std::string& field) {
  std::istringstream status(ReadFile("/proc/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with(field + ":"))
      return std::stoull(line.substr(field.size() + 1), nullptr, 16);
  }
  ADD_FAILURE() << "no " << field << " in /proc/" << pid << "/status";
  return ~uint64_t{0};
}

// A TCP listener on loopback whose only holder is a `sleep` run by the user daemon.
class ForeignListener {
 public:
  ForeignListener() : socket_(Listen(AF_INET, "127.0.0.1")) {
    holder_ = ChildProcess::Exec(
        {kSetpriv, "--reuid=1", "--regid=1", "--clear-groups", "/usr/bin/sleep", "600"},
        {socket_.fd.get()});
    socket_.fd.Reset();
    const std::string comm = "/proc/" + std::to_string(holder_->pid()) + "/comm";
    EXPECT_TRUE(WaitFor([&] { return ReadFile(comm) == "sleep\n"; }, 5s)) << "sleep never ran";
  }

  uint16_t port() const { return socket_.port; }
  uint64_t inode() const { return socket_.inode; }
  pid_t pid() const { return holder_->pid(); }

 private:
  TestSocket socket_;
  std::unique_ptr<ChildProcess> holder_;
};

// `portwatch snapshot --json` as nobody with `capabilities`: the listener's row (null if absent).
json SnapshotAsNobody(const std::vector<std::string>& capabilities,
                      const ForeignListener& listener) {
  std::vector<std::string> argv = AsNobodyWith(capabilities);
  argv.insert(argv.end(),
              {PORTWATCH_BINARY, "snapshot", "--json", "--port", std::to_string(listener.port())});
  const testing::CommandResult result = RunCommand(argv);
  json row = FindInode(ExpectJsonArray(result), listener.inode());
  EXPECT_FALSE(row.is_null()) << Describe(result);
  return row;
}

TEST(LeastPrivilege, TheServicesTwoCapabilitiesSeeAnotherUsersSocketOwner) {
  ASSERT_EQ(geteuid(), 0u) << "run the packaging tests as root: setpriv changes user";
  ForeignListener listener;
  const json row = SnapshotAsNobody(kServiceCapabilities, listener);
  EXPECT_EQ(row["owner_status"], "known") << row.dump();
  EXPECT_EQ(row["pid"], listener.pid());
  EXPECT_EQ(row["process"], "sleep");
  EXPECT_EQ(row["exe"], "/usr/bin/sleep");
  EXPECT_EQ(row["user"], UserName(kDaemon));
}

TEST(LeastPrivilege, WithEitherCapabilityAloneTheOwnerIsNoPermission) {
  ASSERT_EQ(geteuid(), 0u) << "run the packaging tests as root: setpriv changes user";
  ForeignListener listener;
  for (const std::vector<std::string>& capabilities :
       std::vector<std::vector<std::string>>{{}, {"dac_read_search"}, {"sys_ptrace"}}) {
    SCOPED_TRACE("capabilities: " + (capabilities.empty() ? "none" : capabilities[0]));
    const json row = SnapshotAsNobody(capabilities, listener);
    EXPECT_EQ(row["owner_status"], "no-permission") << row.dump();
    EXPECT_TRUE(row["pid"].is_null()) << row.dump();
  }
}

// The agent as the unit starts it: its own user, the two capabilities, no --db (its state
// directory comes from $STATE_DIRECTORY, as StateDirectory= sets it).
TEST(LeastPrivilege, TheAgentAsTheServiceSeesOwnersThroughItsApiAndKeepsItsTokenPrivate) {
  ASSERT_EQ(geteuid(), 0u) << "run the packaging tests as root: setpriv changes user";
  TempDir dir;
  const std::string state = dir.MakeDir("state");
  ASSERT_EQ(chown(state.c_str(), kNobody, kNobody), 0);
  ASSERT_EQ(chmod(state.c_str(), 0750), 0);
  ForeignListener listener;

  std::vector<std::string> wrapper = {"/usr/bin/env", "STATE_DIRECTORY=" + state};
  const std::vector<std::string> setpriv = AsNobodyWith(kServiceCapabilities);
  wrapper.insert(wrapper.end(), setpriv.begin(), setpriv.end());
  Recording agent(dir, {}, "agent", wrapper);
  const std::string address_file = state + "/api.address";
  ASSERT_TRUE(WaitFor([&] { return std::filesystem::exists(address_file); }, 30s))
      << agent.Stderr();

  // It holds the two capabilities and no others, in every set that could give it more.
  EXPECT_EQ(CapabilitySet(agent.pid(), "CapEff"), kServiceCapabilityBits);
  EXPECT_EQ(CapabilitySet(agent.pid(), "CapPrm"), kServiceCapabilityBits);
  EXPECT_EQ(CapabilitySet(agent.pid(), "CapBnd"), kServiceCapabilityBits);

  struct stat token_info {};
  ASSERT_EQ(stat((state + "/api.token").c_str(), &token_info), 0);
  EXPECT_EQ(token_info.st_uid, kNobody);
  EXPECT_EQ(token_info.st_mode & 0777, 0600u);
  EXPECT_TRUE(std::filesystem::exists(state + "/history.db"));

  std::string url = ReadFile(address_file);
  while (!url.empty() && url.back() == '\n') url.pop_back();
  std::string token = ReadFile(state + "/api.token");
  while (!token.empty() && token.back() == '\n') token.pop_back();
  httplib::Client client(url);
  json row;
  EXPECT_TRUE(WaitFor(
      [&] {
        const httplib::Result response =
            client.Get("/api/v1/sockets?port=" + std::to_string(listener.port()),
                       {{"Authorization", "Bearer " + token}});
        if (!response || response->status != 200) return false;
        const json page = json::parse(response->body, nullptr, false);
        if (!page.is_object() || !page.contains("sockets")) return false;
        row = FindInode(page["sockets"], listener.inode());
        return !row.is_null();
      },
      10s))
      << agent.Stderr();
  EXPECT_EQ(row["owner_status"], "known") << row.dump();
  EXPECT_EQ(row["pid"], listener.pid());
  EXPECT_EQ(row["user"], UserName(kDaemon));

  agent.Signal(SIGTERM);
  EXPECT_EQ(agent.Wait(10s), 0) << agent.Stderr();
}

}  // namespace
}  // namespace portwatch
