// The current-state routes — sockets, listeners, processes, one port — answered from a published
// snapshot, through a real server: every filter, the sort, the pages, and their errors.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <set>
#include <string>
#include <vector>

#include "tests/api/api_fixture.h"
#include "tests/support/snapshot_builder.h"

namespace portwatch::api {
namespace {

using collectors::Process;
using collectors::SocketState;
using nlohmann::json;
using portwatch::testing::Listener;
using portwatch::testing::Packet;
using portwatch::testing::Proc;
using portwatch::testing::SnapshotBuilder;
using portwatch::testing::Tcp;
using portwatch::testing::Udp;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAreArray;

constexpr int64_t kTakenAt = 1'700'000'000'000;

Process RootProc(int32_t pid, const std::string& name) {
  Process process = Proc(pid, 1, name);
  process.uid = 0;
  process.user = "root";
  return process;
}

// A small host, every socket's cookie its number in the comments:
//   1 postgres listens on 0.0.0.0:5432      6 sshd listens on [::]:22 (root)
//   2 redis listens on 127.0.0.1:6379       7 a TIME_WAIT on 5432 from 10.0.0.8 (no owner)
//   3 a client 10.0.0.9 -> postgres         8 tcpdump's packet socket (root)
//   4 curl -> 93.184.216.34:443             9 app -> redis over loopback
//   5 dnsmasq's UDP 0.0.0.0:53 (root)
collectors::Snapshot Host() {
  SnapshotBuilder builder(kTakenAt);
  builder.Add(Listener(1, "0.0.0.0", 5432), Proc(10, 1, "postgres"));
  builder.Add(Listener(2, "127.0.0.1", 6379), Proc(11, 1, "redis-server"));
  builder.Add(Tcp(3, "10.0.0.1", 5432, "10.0.0.9", 40000, SocketState::kEstablished),
              Proc(10, 1, "postgres"));
  builder.Add(Tcp(4, "10.0.0.1", 51000, "93.184.216.34", 443, SocketState::kEstablished),
              Proc(12, 1, "curl"));
  builder.Add(Udp(5, "0.0.0.0", 53), RootProc(13, "dnsmasq"));
  builder.Add(Listener(6, "::", 22), RootProc(14, "sshd"));
  builder.Add(Tcp(7, "10.0.0.1", 5432, "10.0.0.8", 40001, SocketState::kTimeWait, 0));
  builder.Add(Packet(8), RootProc(15, "tcpdump"));
  builder.Add(Tcp(9, "127.0.0.1", 45000, "127.0.0.1", 6379, SocketState::kEstablished),
              Proc(16, 1, "app"));
  return builder.Build();
}

std::vector<uint64_t> Cookies(const json& body) {
  std::vector<uint64_t> cookies;
  for (const json& socket : body["sockets"]) cookies.push_back(socket["cookie"].get<uint64_t>());
  return cookies;
}

class CurrentRoutesTest : public testing::ApiFixture {
 protected:
  void SetUp() override {
    ApiFixture::SetUp();
    Publish(Host());
  }
};

TEST_F(CurrentRoutesTest, EveryFilterSelectsTheSocketsItNames) {
  struct Case {
    std::string query;
    std::vector<uint64_t> cookies;
  } cases[] = {
      {"", {1, 2, 3, 4, 5, 6, 7, 8, 9}},
      {"proto=tcp", {1, 2, 3, 4, 6, 7, 9}},
      {"proto=udp,packet", {5, 8}},
      {"proto=raw", {}},
      {"state=listen", {1, 2, 6}},
      {"state=estab", {3, 4, 9}},
      {"state=time-wait", {7}},
      {"port=5432", {1, 3, 7}},
      {"port=6379", {2, 9}},
      {"local_port=6379", {2}},
      {"remote_port=443", {4}},
      {"pid=10", {1, 3}},
      {"process=postgres", {1, 3}},
      {"process=postgre", {}},  // a name, not a search
      {"user=root", {5, 6, 8}},
      {"local=127.0.0.0/8", {2, 9}},
      {"remote=10.0.0.0/24", {3, 7}},
      {"remote=93.184.216.34", {4}},
      {"exposure=loopback", {2, 9}},
      {"exposure=all", {1, 5, 6}},
      {"direction=listen", {1, 2, 5, 6}},
      {"direction=inbound", {3, 7}},
      {"direction=outbound", {4}},
      {"direction=local", {9}},
      {"remote_class=public", {4}},
      {"remote_class=private", {3, 7}},
      {"listening=true", {1, 2, 5, 6, 8}},
      {"listening=false", {3, 4, 7, 9}},
      {"listening", {1, 2, 5, 6, 8}},
      {"q=gres", {1, 3}},            // part of a program's name, any case
      {"q=POSTGRES", {1, 3}},        //
      {"q=%2Fusr%2Fbin%2Fcu", {4}},  // part of its path
      {"q=5432", {1, 3, 7}},         // a port
      {"q=10.0.0.9", {3}},           // an address
      {"q=93.184.216.0%2F24", {4}},  // a block
      {"q=", {1, 2, 3, 4, 5, 6, 7, 8, 9}},
      {"proto=tcp&state=estab&remote_class=private", {3}},
      {"port=5432&direction=inbound&process=postgres", {3}},
  };
  for (const Case& c : cases) {
    const json body = GetJson("/api/v1/sockets?" + c.query);
    ASSERT_TRUE(body.is_object()) << c.query;
    EXPECT_THAT(Cookies(body), UnorderedElementsAreArray(c.cookies)) << c.query;
    EXPECT_EQ(body["total"], c.cookies.size()) << c.query;
    EXPECT_EQ(body["snapshot_sockets"], 9) << c.query;
    EXPECT_EQ(body["taken_at"], "2023-11-14T22:13:20.000Z") << c.query;
  }
}

TEST_F(CurrentRoutesTest, SortsByAFieldEitherWayAndKeepsTiesInSnapshotOrder) {
  // Local ports: 1:5432 2:6379 3:5432 4:51000 5:53 6:22 7:5432 8:none 9:45000.
  EXPECT_THAT(Cookies(GetJson("/api/v1/sockets?sort=local_port")),
              ElementsAre(8, 6, 5, 1, 3, 7, 2, 9, 4));
  EXPECT_THAT(Cookies(GetJson("/api/v1/sockets?sort=-local_port")),
              ElementsAre(4, 9, 2, 1, 3, 7, 5, 6, 8));
  // Owners by name; the owner-less TIME_WAIT sorts first.
  EXPECT_THAT(Cookies(GetJson("/api/v1/sockets?sort=process")),
              ElementsAre(7, 9, 4, 5, 1, 3, 2, 6, 8));
  EXPECT_THAT(Cookies(GetJson("/api/v1/sockets?sort=remote_port&proto=tcp&state=estab")),
              ElementsAre(4, 9, 3));
}

TEST_F(CurrentRoutesTest, PagesCoverEverySocketOnceAndSayWhereTheNextStarts) {
  std::vector<uint64_t> seen;
  json next = 0;
  int pages = 0;
  while (!next.is_null()) {
    const json page =
        GetJson("/api/v1/sockets?sort=process&limit=4&offset=" + std::to_string(next.get<int>()));
    ASSERT_TRUE(page.is_object());
    EXPECT_EQ(page["total"], 9);
    EXPECT_EQ(page["limit"], 4);
    EXPECT_EQ(page["offset"], next);
    EXPECT_LE(page["sockets"].size(), 4u);
    for (uint64_t cookie : Cookies(page)) seen.push_back(cookie);
    next = page["next_offset"];
    ASSERT_LE(++pages, 3) << "next_offset never ends";
  }
  EXPECT_EQ(pages, 3);
  EXPECT_THAT(seen, ElementsAre(7, 9, 4, 5, 1, 3, 2, 6, 8));
  const json beyond = GetJson("/api/v1/sockets?offset=50");
  EXPECT_TRUE(beyond["sockets"].empty());
  EXPECT_EQ(beyond["total"], 9);
  EXPECT_TRUE(beyond["next_offset"].is_null());
}

TEST_F(CurrentRoutesTest, UnfilteredPagesFollowTheSnapshotsOrder) {
  const json first = GetJson("/api/v1/sockets?limit=4");
  EXPECT_THAT(Cookies(first), ElementsAre(1, 2, 3, 4));
  EXPECT_EQ(first["next_offset"], 4);
  EXPECT_EQ(first["total"], 9);
  const json last = GetJson("/api/v1/sockets?limit=4&offset=8");
  EXPECT_THAT(Cookies(last), ElementsAre(9));
  EXPECT_TRUE(last["next_offset"].is_null());
  EXPECT_EQ(last["offset"], 8);
  const json beyond = GetJson("/api/v1/sockets?limit=4&offset=100");
  EXPECT_TRUE(beyond["sockets"].empty());
  EXPECT_EQ(beyond["offset"], 9);
  EXPECT_EQ(beyond["total"], 9);
}

TEST_F(CurrentRoutesTest, ASocketCarriesItsOwnerAndWhatIsDerivedFromIt) {
  const json body = GetJson("/api/v1/sockets?local_port=5432&state=listen");
  ASSERT_EQ(body["sockets"].size(), 1u);
  const json& socket = body["sockets"][0];
  EXPECT_EQ(socket["proto"], "tcp");
  EXPECT_EQ(socket["local_addr"], "0.0.0.0");
  EXPECT_EQ(socket["pid"], 10);
  EXPECT_EQ(socket["process"], "postgres");
  EXPECT_EQ(socket["user"], "alice");
  EXPECT_EQ(socket["exe"], "/usr/bin/postgres");
  EXPECT_EQ(socket["service"], "postgresql");
  EXPECT_EQ(socket["port_category"], "registered");
  EXPECT_EQ(socket["exposure"], "all");
  EXPECT_EQ(socket["direction"], "listen");
  const json kernel = GetJson("/api/v1/sockets?state=time-wait")["sockets"][0];
  EXPECT_TRUE(kernel["pid"].is_null());
  EXPECT_EQ(kernel["owner_status"], "kernel");
}

TEST_F(CurrentRoutesTest, BadSocketParametersAreFourHundredsThatNameTheParameter) {
  struct Case {
    std::string query;
    std::string mentions;
  } cases[] = {
      {"limit=0", "limit"},
      {"limit=1001", "limit"},
      {"limit=ten", "limit"},
      {"offset=-1", "offset"},
      {"port=70000", "port"},
      {"port=abc", "port"},
      {"port=", "port"},
      {"local_port=-1", "local_port"},
      {"pid=0", "pid"},
      {"pid=1x", "pid"},
      {"proto=icmp", "proto"},
      {"proto=tcp,,udp", "proto"},
      {"state=dancing", "state"},
      {"exposure=far", "exposure"},
      {"direction=up", "direction"},
      {"remote_class=nearby", "remote_class"},
      {"local=300.1.1.1", "local"},
      {"remote=10.0.0.1/8", "remote"},
      {"remote=10.0.0.0/33", "remote"},
      {"listening=maybe", "listening"},
      {"sort=nope", "sort"},
      {"sort=-", "sort"},
      {"colour=red", "colour"},
      {"port=1&port=2", "more than once"},
      {"q=" + std::string(3000, 'x'), "longer than"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(ErrorOf(Get("/api/v1/sockets?" + c.query), 400), HasSubstr(c.mentions))
        << c.query.substr(0, 60);
  }
}

TEST_F(CurrentRoutesTest, ListenersAreGroupedByProgramWidestExposureFirst) {
  const json body = GetJson("/api/v1/listeners");
  ASSERT_TRUE(body.is_object());
  EXPECT_EQ(body["total"], 4);  // TCP and UDP listeners; the packet socket has no port
  std::vector<std::string> programs;
  for (const json& program : body["programs"]) programs.push_back(program["program"]);
  // Everywhere first (by name), then loopback.
  EXPECT_THAT(programs, ElementsAre("dnsmasq", "postgres", "sshd", "redis-server"));
  const json& sshd = body["programs"][2];
  EXPECT_EQ(sshd["exposure"], "all");
  EXPECT_EQ(sshd["user"], "root");
  EXPECT_EQ(sshd["exe"], "/usr/bin/sshd");
  EXPECT_EQ(sshd["cmdline"], "sshd --flag");
  EXPECT_THAT(sshd["pids"], ElementsAre(14));
  ASSERT_EQ(sshd["listeners"].size(), 1u);
  EXPECT_EQ(sshd["listeners"][0]["local_port"], 22);
  EXPECT_EQ(sshd["listeners"][0]["service"], "ssh");
  EXPECT_EQ(body["programs"][3]["exposure"], "loopback");
  EXPECT_THAT(ErrorOf(Get("/api/v1/listeners?sort=x"), 400), HasSubstr("takes none"));
}

TEST_F(CurrentRoutesTest, ProcessesCountTheirSockets) {
  const json body = GetJson("/api/v1/processes");
  ASSERT_TRUE(body.is_object());
  EXPECT_EQ(body["total"], 7);
  json postgres;
  for (const json& process : body["processes"]) {
    if (process["name"] == "postgres") postgres = process;
  }
  ASSERT_TRUE(postgres.is_object()) << body.dump();
  EXPECT_EQ(postgres["pid"], 10);
  EXPECT_EQ(postgres["sockets"], 2);
  EXPECT_EQ(postgres["listeners"], 1);
  EXPECT_EQ(postgres["connections"], 1);
  EXPECT_EQ(postgres["tcp"], 2);
  EXPECT_EQ(postgres["udp"], 0);
}

TEST_F(CurrentRoutesTest, APortIsExplainedWithWhoHoldsItAndWhetherOthersCanReachIt) {
  const json postgres = GetJson("/api/v1/ports/5432");
  ASSERT_TRUE(postgres.is_object());
  EXPECT_EQ(postgres["port"], 5432);
  EXPECT_TRUE(postgres["held"]);
  EXPECT_TRUE(postgres["listening"]);
  EXPECT_EQ(postgres["service"], "postgresql");
  EXPECT_EQ(postgres["port_category"], "registered");
  EXPECT_FALSE(postgres["privileged"]);
  EXPECT_EQ(postgres["exposure"], "all");
  EXPECT_TRUE(postgres["reachable_from_other_hosts"]);
  EXPECT_EQ(postgres["sockets"].size(), 3u);
  ASSERT_FALSE(postgres["holders"].empty());
  EXPECT_EQ(postgres["holders"][0]["process"], "postgres");

  const json redis = GetJson("/api/v1/ports/6379?proto=tcp");
  EXPECT_EQ(redis["protocol"], "tcp");
  EXPECT_FALSE(redis["reachable_from_other_hosts"]);
  EXPECT_EQ(redis["exposure"], "loopback");

  const json ssh = GetJson("/api/v1/ports/22");
  EXPECT_TRUE(ssh["privileged"]);
  EXPECT_EQ(ssh["port_category"], "well-known");

  const json free_port = GetJson("/api/v1/ports/8081");
  EXPECT_FALSE(free_port["held"]);
  EXPECT_TRUE(free_port["holders"].empty());
  EXPECT_TRUE(GetJson("/api/v1/ports/53?proto=udp")["held"]);
  EXPECT_FALSE(GetJson("/api/v1/ports/53?proto=tcp")["held"]);

  EXPECT_THAT(ErrorOf(Get("/api/v1/ports/70000"), 400), HasSubstr("port"));
  EXPECT_THAT(ErrorOf(Get("/api/v1/ports/ssh"), 400), HasSubstr("port"));
  EXPECT_THAT(ErrorOf(Get("/api/v1/ports/22?proto=raw"), 400), HasSubstr("proto"));
}

using BeforeTheFirstSnapshot = testing::ApiFixture;  // publishes nothing

TEST_F(BeforeTheFirstSnapshot, CurrentRoutesAnswerServiceUnavailableAndTheAgentIsNotReady) {
  for (const char* path :
       {"/api/v1/sockets", "/api/v1/listeners", "/api/v1/processes", "/api/v1/ports/22"}) {
    EXPECT_THAT(ErrorOf(Get(path), 503), HasSubstr("first snapshot")) << path;
  }
  EXPECT_THAT(ErrorOf(Get("/readyz", false), 503), HasSubstr("no snapshot"));
  httplib::Result health = Get("/healthz", false);
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

}  // namespace
}  // namespace portwatch::api
