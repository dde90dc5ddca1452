// Baseline: learning listeners, matching them, and the YAML file round trip with its errors.

#include "agent/rules/baseline.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "tests/support/namespaces.h"
#include "tests/support/portwatch_cli.h"
#include "tests/support/snapshot_builder.h"
#include "tests/support/sockets.h"
#include "tests/support/temp_dir.h"

namespace portwatch::agent::rules {
namespace {

using collectors::Protocol;
using portwatch::testing::Listener;
using portwatch::testing::Proc;
using portwatch::testing::SnapshotBuilder;
using portwatch::testing::TempDir;
using portwatch::testing::Udp;
using ::testing::HasSubstr;

constexpr int64_t kAt = 1'790'000'000'000;

std::string Read(const std::string& path) {
  std::ifstream file(path);
  return std::string(std::istreambuf_iterator<char>(file), {});
}

TEST(Baseline, LearnsEachListenerOnceAndNeverAPid) {
  const collectors::Snapshot snapshot =
      SnapshotBuilder(kAt)
          .Add(Listener(1, "0.0.0.0", 22), Proc(700, 1, "sshd"))
          .Add(Listener(2, "::", 22), Proc(700, 1, "sshd"))  // dual stack: same entry
          .Add(Listener(3, "127.0.0.1", 5432), Proc(800, 1, "postgres"))
          .Add(Udp(4, "0.0.0.0", 45000), Proc(900, 1, "unbound"))  // in the ephemeral range
          .Add(Udp(5, "0.0.0.0", 45001), Proc(900, 1, "unbound"))
          .Add(Udp(6, "0.0.0.0", 5353), Proc(910, 1, "avahi-daemon"))
          .Build();
  Baseline baseline;
  EXPECT_EQ(baseline.Learn(snapshot), 4);
  EXPECT_EQ(baseline.Learn(snapshot), 0) << "already known";
  ASSERT_EQ(baseline.entries().size(), 4u);
  // A resolver's query sockets take a new port each time: its program may use any UDP port.
  const BaselineEntry& resolver = baseline.entries()[2];
  EXPECT_EQ(resolver.program, "/usr/bin/unbound");
  EXPECT_EQ(resolver.protocol, Protocol::kUdp);
  EXPECT_EQ(resolver.port, std::nullopt);
  EXPECT_EQ(baseline.entries()[3].port, 5353);
  const BaselineEntry& sshd = baseline.entries()[0];
  EXPECT_EQ(sshd.program, "/usr/bin/sshd");
  EXPECT_EQ(sshd.port, 22);
  EXPECT_EQ(sshd.protocol, Protocol::kTcp);
  EXPECT_EQ(sshd.user, "alice");
  EXPECT_EQ(sshd.exposure, collectors::Exposure::kAll);
}

// A bare name in a hand-written baseline is the executable's file name, not the name a process
// gives itself.
TEST(Baseline, ABareNameIsTheExecutablesFileNameNotTheProcessName) {
  TempDir dir;
  Result<Baseline> baseline =
      Baseline::Load(dir.WriteFile("baseline.yaml", "listeners:\n  - {program: sshd, port: 22}\n"));
  ASSERT_TRUE(baseline.ok()) << baseline.error().message;
  collectors::Process impostor = Proc(30, 1, "sshd");
  impostor.exe = "/usr/bin/python3";  // prctl(PR_SET_NAME, "sshd")
  const collectors::Snapshot snapshot =
      SnapshotBuilder(kAt).Add(Listener(1, "0.0.0.0", 22), impostor).Build();
  EXPECT_FALSE(baseline->Allows(snapshot.sockets[0], snapshot.PrimaryOwner(snapshot.sockets[0])));
}

TEST(Baseline, SavesEditableYamlAndLoadsItBack) {
  TempDir dir;
  const collectors::Snapshot snapshot =
      SnapshotBuilder(kAt).Add(Listener(1, "0.0.0.0", 22), Proc(700, 1, "sshd")).Build();
  Baseline learned;
  learned.Learn(snapshot);
  const std::string path = dir.path() + "/baseline.yaml";
  ASSERT_TRUE(learned.Save(path, "learned by a test\non two lines").ok());
  const std::string text = Read(path);
  EXPECT_THAT(text, HasSubstr("# learned by a test\n# on two lines\n"));
  EXPECT_THAT(text, HasSubstr("program: /usr/bin/sshd"));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp." + std::to_string(getpid())));

  Result<Baseline> loaded = Baseline::Load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->entries(), learned.entries());
  EXPECT_TRUE(loaded->Allows(snapshot.sockets[0], snapshot.PrimaryOwner(snapshot.sockets[0])));
}

TEST(Baseline, AnEntryMatchesEveryListenerOfTheFieldsItSets) {
  TempDir dir;
  const std::string path = dir.WriteFile(
      "baseline.yaml",
      "listeners:\n  - {program: \"/usr/bin/ngin*\"}\n  - {program: sshd, port: 22}\n");
  Result<Baseline> baseline = Baseline::Load(path);
  ASSERT_TRUE(baseline.ok()) << baseline.error().message;
  const collectors::Snapshot snapshot = SnapshotBuilder(kAt)
                                            .Add(Listener(1, "0.0.0.0", 80), Proc(10, 1, "nginx"))
                                            .Add(Listener(2, "0.0.0.0", 8443), Proc(10, 1, "nginx"))
                                            .Add(Listener(3, "0.0.0.0", 22), Proc(20, 1, "sshd"))
                                            .Add(Listener(4, "0.0.0.0", 2222), Proc(20, 1, "sshd"))
                                            .Build();
  std::vector<bool> allowed;
  for (const collectors::Socket& socket : snapshot.sockets) {
    allowed.push_back(baseline->Allows(socket, snapshot.PrimaryOwner(socket)));
  }
  EXPECT_THAT(allowed, ::testing::ElementsAre(true, true, true, false));
}

TEST(Baseline, EveryProblemNamesTheFileAndLine) {
  TempDir dir;
  const std::string path = dir.WriteFile("baseline.yaml",
                                         "listeners:\n"
                                         "  - {program: sshd, port: 99999}\n"
                                         "  - {protocol: sctp}\n"
                                         "  - {exposure: everywhere, colour: blue}\n");
  Result<Baseline> baseline = Baseline::Load(path);
  ASSERT_FALSE(baseline.ok());
  EXPECT_THAT(baseline.error().message, HasSubstr(path + ":2: port: '99999' is not a port"));
  EXPECT_THAT(baseline.error().message, HasSubstr(path + ":3: protocol: 'sctp' is not tcp or udp"));
  EXPECT_THAT(baseline.error().message, HasSubstr(path + ":4: exposure: 'everywhere'"));
  EXPECT_THAT(baseline.error().message, HasSubstr(path + ":4: unknown key 'colour'"));
}

TEST(BaselineLearn, WritesTheListenersItSawInTheFile) {
  portwatch::testing::OwnNamespaces namespaces(portwatch::testing::OwnNamespaces::Scope::kNetwork);
  ASSERT_TRUE(namespaces.entered()) << "needs root for a network namespace";
  TempDir dir;
  portwatch::testing::TestSocket listener = portwatch::testing::Listen(AF_INET, "127.0.0.1");
  const std::string out = dir.path() + "/baseline.yaml";
  const portwatch::testing::CommandResult result = portwatch::testing::Portwatch(
      {"baseline", "learn", "--for", "600ms", "--interval", "200ms", "--out", out});
  ASSERT_EQ(result.exit_code, 0) << portwatch::testing::Describe(result);
  EXPECT_THAT(result.out, HasSubstr(out + ": 1 listeners (1 new) from"));
  Result<Baseline> learned = Baseline::Load(out);
  ASSERT_TRUE(learned.ok()) << learned.error().message;
  ASSERT_EQ(learned->entries().size(), 1u);
  EXPECT_EQ(learned->entries()[0].port, listener.port);
  EXPECT_EQ(learned->entries()[0].exposure, collectors::Exposure::kLoopback);

  const portwatch::testing::CommandResult bad =
      portwatch::testing::Portwatch({"baseline", "learn", "--for", "ten minutes", "--out", out});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("--for:"));
}

}  // namespace
}  // namespace portwatch::agent::rules
