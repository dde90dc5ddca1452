// The history routes, through a real server over a database the test records into with the
// store's writer, as the agent does: the state at a moment, connections with an address or block,
// a port's history, listener events, samples for charts, one socket's lifetime, and their errors.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <ctime>
#include <string>
#include <vector>

#include "store/history_writer.h"
#include "tests/api/api_fixture.h"
#include "tests/support/snapshot_builder.h"

namespace portwatch::api {
namespace {

using collectors::SocketState;
using nlohmann::json;
using portwatch::testing::Listener;
using portwatch::testing::Proc;
using portwatch::testing::SnapshotBuilder;
using portwatch::testing::Tcp;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

// "2026-12-06T10:00:00Z" for a whole second, written here rather than by the code under test.
std::string Iso(int64_t ms) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

std::vector<uint64_t> Cookies(const json& sockets) {
  std::vector<uint64_t> cookies;
  for (const json& socket : sockets) cookies.push_back(socket["cookie"].get<uint64_t>());
  return cookies;
}

// Four seconds of a host, ten minutes ago (so the routes' default range, the last 24 h, holds
// them), each second a snapshot:
//   t0  postgres listens on 5432 (1); 10.0.0.9 is connected to it (3); curl connects out (4)
//   t1  curl's connection is established; nc listens on 31337 (10)
//   t2  the client and nc are gone
//   t3  curl's connection is gone
class HistoryRoutesTest : public testing::ApiFixture {
 protected:
  void SetUp() override {
    ApiFixture::SetUp();
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    t0_ = (now - 10 * 60 * 1000) / 60'000 * 60'000;  // on a minute, for the samples' buckets
    Result<store::HistoryWriter> writer = store::HistoryWriter::Create(db());
    ASSERT_TRUE(writer.ok()) << writer.error().message;
    for (int second = 0; second < 4; ++second) {
      SnapshotBuilder builder(At(second));
      builder.Add(Listener(1, "0.0.0.0", 5432), Proc(10, 1, "postgres"));
      if (second < 2) {
        builder.Add(Tcp(3, "10.0.0.1", 5432, "10.0.0.9", 40000, SocketState::kEstablished),
                    Proc(10, 1, "postgres"));
      }
      if (second < 3) {
        builder.Add(Tcp(4, "10.0.0.1", 51000, "93.184.216.34", 443,
                        second == 0 ? SocketState::kSynSent : SocketState::kEstablished),
                    Proc(12, 1, "curl"));
      }
      if (second == 1) builder.Add(Listener(10, "0.0.0.0", 31337), Proc(20, 1, "nc"));
      Result<store::WriteStats> written = writer->Write(builder.Build());
      ASSERT_TRUE(written.ok()) << written.error().message;
    }
  }

  int64_t At(int second) const { return t0_ + second * 1000; }

  int64_t t0_ = 0;
};

TEST_F(HistoryRoutesTest, TheStateAtAMomentIsWhatWasOpenThen) {
  EXPECT_THAT(Cookies(GetJson("/api/v1/history/state?at=" + Iso(At(0)))["sockets"]),
              UnorderedElementsAre(1, 3, 4));
  const json t1 = GetJson("/api/v1/history/state?at=" + Iso(At(1)));
  EXPECT_THAT(Cookies(t1["sockets"]), UnorderedElementsAre(1, 3, 4, 10));
  EXPECT_EQ(t1["total"], 4);
  EXPECT_EQ(t1["at"], Iso(At(1)).insert(19, ".000"));
  for (const json& socket : t1["sockets"]) {
    if (socket["cookie"] == 10) {
      EXPECT_EQ(socket["process"], "nc");
      EXPECT_EQ(socket["local_port"], 31337);
    }
    if (socket["cookie"] == 4) {
      EXPECT_EQ(socket["state"], "ESTABLISHED");
    }
  }
  EXPECT_THAT(Cookies(GetJson("/api/v1/history/state?at=" + Iso(At(2)))["sockets"]),
              UnorderedElementsAre(1, 4));
  EXPECT_THAT(Cookies(GetJson("/api/v1/history/state?at=" + Iso(At(3)))["sockets"]),
              ElementsAre(1));
  // A relative moment: now is after t3.
  EXPECT_THAT(Cookies(GetJson("/api/v1/history/state?at=-1s")["sockets"]), ElementsAre(1));
}

// The past is asked like the present: the same filters, search, order and pages as
// /api/v1/sockets, so a moment with 50k sockets is answered a page at a time.
TEST_F(HistoryRoutesTest, TheStateAtAMomentIsFilteredSortedAndPagedLikeTheCurrentSockets) {
  const std::string at = "/api/v1/history/state?at=" + Iso(At(1));
  const json listening = GetJson(at + "&listening=true&sort=-local_port");
  EXPECT_THAT(Cookies(listening["sockets"]), ElementsAre(10, 1));
  EXPECT_EQ(listening["total"], 2);
  EXPECT_EQ(listening["snapshot_sockets"], 4);
  EXPECT_TRUE(listening["next_offset"].is_null());

  EXPECT_THAT(Cookies(GetJson(at + "&process=curl")["sockets"]), ElementsAre(4));
  EXPECT_THAT(Cookies(GetJson(at + "&remote=10.0.0.0/8")["sockets"]), ElementsAre(3));
  EXPECT_THAT(Cookies(GetJson(at + "&q=31337")["sockets"]), ElementsAre(10));

  // Pages of one, in cookie order by local port: 5432 (1, 3), 31337 (10), 51000 (4).
  std::vector<uint64_t> seen;
  json page = GetJson(at + "&sort=local_port&limit=1");
  for (int pages = 0; pages < 10; ++pages) {
    EXPECT_EQ(page["total"], 4);
    EXPECT_EQ(page["limit"], 1);
    for (uint64_t cookie : Cookies(page["sockets"])) seen.push_back(cookie);
    if (page["next_offset"].is_null()) break;
    page = GetJson(at + "&sort=local_port&limit=1&offset=" + page["next_offset"].dump());
  }
  EXPECT_THAT(seen, ElementsAre(1, 3, 10, 4));

  EXPECT_THAT(ErrorOf(Get(at + "&sort=age"), 400), HasSubstr("sort"));
  EXPECT_THAT(ErrorOf(Get(at + "&limit=100000"), 400), HasSubstr("limit"));
  EXPECT_THAT(ErrorOf(Get(at + "&state=sleepy"), 400), HasSubstr("state"));
}

TEST_F(HistoryRoutesTest, ConnectionsWithAnAddressOrABlockComeWithTheirLifetimes) {
  const json client = GetJson("/api/v1/history/connections?remote=10.0.0.9");
  ASSERT_EQ(client["sockets"].size(), 1u);
  EXPECT_EQ(client["total"], 1);
  EXPECT_EQ(client["sockets"][0]["cookie"], 3);
  EXPECT_EQ(client["sockets"][0]["opened_at"], At(0));
  EXPECT_EQ(client["sockets"][0]["closed_at"], At(2));
  EXPECT_EQ(client["sockets"][0]["process"], "postgres");

  const json block =
      GetJson("/api/v1/history/connections?remote=93.184.216.0%2F24&since=" + Iso(At(0)) +
              "&until=" + Iso(At(3)));
  ASSERT_EQ(block["sockets"].size(), 1u);
  EXPECT_EQ(block["sockets"][0]["cookie"], 4);
  EXPECT_EQ(block["sockets"][0]["closed_at"], At(3));
  EXPECT_GT(block["sockets"][0]["id"], 0);

  // A range that ends before the connection began holds nothing.
  EXPECT_TRUE(GetJson("/api/v1/history/connections?remote=10.0.0.9&since=2h&until=" +
                      Iso(At(0) - 60'000))["sockets"]
                  .empty());
}

TEST_F(HistoryRoutesTest, APortsHistoryShowsWhenItListenedAndOnWhat) {
  const json body = GetJson("/api/v1/history/ports/31337");
  ASSERT_EQ(body["sockets"].size(), 1u);
  const json& nc = body["sockets"][0];
  EXPECT_EQ(nc["process"], "nc");
  EXPECT_EQ(nc["state"], "LISTEN");
  EXPECT_EQ(nc["opened_at"], At(1));
  EXPECT_EQ(nc["closed_at"], At(2));
  EXPECT_THAT(Cookies(GetJson("/api/v1/history/ports/5432")["sockets"]),
              UnorderedElementsAre(1, 3));
  EXPECT_TRUE(GetJson("/api/v1/history/ports/8080")["sockets"].empty());
}

TEST_F(HistoryRoutesTest, ListenerEventsSayWhatAppearedAndDisappearedWhen) {
  const json body =
      GetJson("/api/v1/history/listener-events?since=" + Iso(At(1)) + "&until=" + Iso(At(3)));
  std::vector<std::string> events;
  for (const json& event : body["events"]) {
    events.push_back(event["event"].get<std::string>() + " " +
                     std::to_string(event["local_port"].get<int>()) + " at t" +
                     std::to_string((event["at"].get<int64_t>() - t0_) / 1000));
  }
  EXPECT_THAT(events, ElementsAre("appeared 31337 at t1", "disappeared 31337 at t2"));
  EXPECT_EQ(body["total"], 2);
}

TEST_F(HistoryRoutesTest, SamplesCountEachStepForCharts) {
  const json body =
      GetJson("/api/v1/history/samples?step=1s&since=" + Iso(At(0)) + "&until=" + Iso(At(3)));
  EXPECT_EQ(body["step_ms"], 1000);
  std::vector<int64_t> listeners;
  std::vector<int64_t> established;
  for (const json& sample : body["samples"]) {
    listeners.push_back(sample["listeners"]);
    established.push_back(sample["established"]);
  }
  EXPECT_THAT(listeners, ElementsAre(1, 2, 1, 1));
  EXPECT_THAT(established, ElementsAre(1, 2, 1, 0));
  // The default step over the default day is a minute; our four seconds fall in one bucket
  // holding each count's maximum.
  const json day = GetJson("/api/v1/history/samples");
  EXPECT_EQ(day["step_ms"], 60'000);
  ASSERT_EQ(day["samples"].size(), 1u);
  EXPECT_EQ(day["samples"][0]["listeners"], 2);
}

TEST_F(HistoryRoutesTest, OneSocketsLifetimeListsItsStateChanges) {
  const json connection = GetJson("/api/v1/history/connections?remote=93.184.216.34");
  ASSERT_EQ(connection["sockets"].size(), 1u);
  const int64_t id = connection["sockets"][0]["id"];
  const json body = GetJson("/api/v1/history/sockets/" + std::to_string(id));
  EXPECT_EQ(body["socket"]["cookie"], 4);
  EXPECT_EQ(body["socket"]["opened_at"], At(0));
  EXPECT_EQ(body["socket"]["closed_at"], At(3));
  ASSERT_EQ(body["changes"].size(), 2u);
  EXPECT_EQ(body["changes"][0]["state"], "SYN_SENT");
  EXPECT_EQ(body["changes"][0]["at"], At(0));
  EXPECT_EQ(body["changes"][1]["state"], "ESTABLISHED");
  EXPECT_EQ(body["changes"][1]["at"], At(1));
}

TEST_F(HistoryRoutesTest, BadQuestionsAreFourHundredsThatSayWhatToAsk) {
  struct Case {
    std::string path;
    int status;
    std::string mentions;
  } cases[] = {
      {"/api/v1/history/state", 400, "at: required"},
      {"/api/v1/history/state?at=soon", 400, "at"},
      {"/api/v1/history/state?at=2026-13-01T00:00:00Z", 400, "at"},
      {"/api/v1/history/state?at=" + Iso(At(0) - 3'600'000), 404, "nothing was recorded before"},
      {"/api/v1/history/connections", 400, "remote: required"},
      {"/api/v1/history/connections?remote=10.0.0.0/99", 400, "remote"},
      {"/api/v1/history/connections?remote=10.0.0.9&since=" + Iso(At(3)) + "&until=" + Iso(At(0)),
       400, "since is after until"},
      {"/api/v1/history/connections?remote=10.0.0.9&since=yesterdayish", 400, "since"},
      {"/api/v1/history/ports/0", 400, "port"},
      {"/api/v1/history/ports/65536", 400, "port"},
      {"/api/v1/history/listener-events?until=tomorrow%3F", 400, "until"},
      {"/api/v1/history/samples?step=10ms", 400, "step"},
      {"/api/v1/history/samples?step=1s&since=30d", 400, "step: at least"},
      {"/api/v1/history/samples?step=often", 400, "step"},
      {"/api/v1/history/sockets/0", 400, "socket id"},
      {"/api/v1/history/sockets/abc", 400, "socket id"},
      {"/api/v1/history/sockets/99999", 404, "99999"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(ErrorOf(Get(c.path), c.status), HasSubstr(c.mentions)) << c.path;
  }
}

using EmptyHistory = testing::ApiFixture;

TEST_F(EmptyHistory, SaysNothingHasBeenRecordedYet) {
  EXPECT_THAT(ErrorOf(Get("/api/v1/history/state?at=-1m"), 404), HasSubstr("nothing has been"));
  EXPECT_TRUE(GetJson("/api/v1/history/connections?remote=10.0.0.0/8")["sockets"].empty());
  EXPECT_TRUE(GetJson("/api/v1/history/samples")["samples"].empty());
}

}  // namespace
}  // namespace portwatch::api
