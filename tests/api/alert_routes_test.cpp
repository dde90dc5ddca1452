// The alert and notification routes, through a real server over alerts the test stores as the
// agent's tracker does: list and filter, one alert with its events and deliveries, and the
// operator's actions — acknowledge, silence, accept — with every malformed body a 4xx.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "store/alerts.h"
#include "store/deliveries.h"
#include "tests/api/api_fixture.h"

namespace portwatch::api {
namespace {

using nlohmann::json;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::set<int64_t> Ids(const json& body) {
  std::set<int64_t> ids;
  for (const json& alert : body["alerts"]) ids.insert(alert["id"].get<int64_t>());
  return ids;
}

// Three alerts: nc on a backdoor port (high, open, two reasons, delivered to one target and
// failed at another), a listener in the ephemeral range (low, resolved) and redis exposed to all
// (high... medium here, acknowledged).
class AlertRoutesTest : public testing::ApiFixture {
 protected:
  void SetUp() override {
    ApiFixture::SetUp();
    const int64_t t = NowMs() - 60'000;
    backdoor_ = Insert("listener tcp/31337 program=/tmp/nc", 4, store::AlertStatus::kOpen,
                       "nc (pid 4242, user root) listens on 0.0.0.0:31337/tcp",
                       R"([{"rule":"backdoor_port","severity":"high","reason":"31337 is a )"
                       R"(known backdoor port"},{"rule":"unexpected_listener",)"
                       R"("severity":"medium","reason":"not in the baseline"}])",
                       t);
    ephemeral_ = Insert("listener tcp/50000 program=/usr/bin/python3", 2,
                        store::AlertStatus::kResolved, "python3 listens on 0.0.0.0:50000/tcp",
                        R"([{"rule":"dynamic_range_listener","severity":"low","reason":"in )"
                        R"(the ephemeral range"}])",
                        t + 1000);
    redis_ = Insert("listener tcp/6379 program=/usr/bin/redis-server", 3,
                    store::AlertStatus::kAcknowledged, "redis-server listens on 0.0.0.0:6379/tcp",
                    R"([{"rule":"sensitive_exposed","severity":"medium","reason":"a cache on )"
                    R"(every interface"}])",
                    t + 2000);
    const int64_t opened = *store::InsertAlertEvent(
        db(), {0, backdoor_, t, store::AlertEventKind::kOpened, "backdoor_port"});
    ASSERT_TRUE(store::EnqueueDelivery(db(), opened, "ops-slack", t).ok());
    ASSERT_TRUE(store::EnqueueDelivery(db(), opened, "hook", t).ok());
    const std::vector<store::Delivery> due = *store::DueDeliveries(db(), NowMs(), 10);
    ASSERT_EQ(due.size(), 2u);
    for (const store::Delivery& delivery : due) {
      if (delivery.target == "ops-slack") {
        ASSERT_TRUE(store::RecordDelivered(db(), delivery.id, t + 10, 200).ok());
      } else {
        ASSERT_TRUE(
            store::RecordFailed(db(), delivery.id, t + 10, 410, "HTTP 410: webhook deleted").ok());
      }
    }
  }

  int64_t Insert(const std::string& subject, int severity, store::AlertStatus status,
                 const std::string& title, const std::string& reasons, int64_t at) {
    store::Alert alert;
    alert.fingerprint = subject;
    alert.subject = subject;
    alert.kind = 1;
    alert.severity = severity;
    alert.status = status;
    alert.title = title;
    alert.reasons = reasons;
    alert.count = 3;
    alert.first_seen = at;
    alert.last_seen = at + 500;
    if (status == store::AlertStatus::kResolved) alert.resolved_at = at + 900;
    alert.first_evidence = alert.last_evidence = R"({"proto":"tcp","local_port":1})";
    Result<int64_t> id = store::InsertAlert(db(), alert);
    EXPECT_TRUE(id.ok()) << id.error().message;
    return id.ok() ? *id : 0;
  }

  int64_t backdoor_ = 0;
  int64_t ephemeral_ = 0;
  int64_t redis_ = 0;
};

TEST_F(AlertRoutesTest, ListsAlertsByStatusSeverityAndRule) {
  EXPECT_THAT(Ids(GetJson("/api/v1/alerts")), UnorderedElementsAre(backdoor_, ephemeral_, redis_));
  EXPECT_THAT(Ids(GetJson("/api/v1/alerts?status=open")), ElementsAre(backdoor_));
  EXPECT_THAT(Ids(GetJson("/api/v1/alerts?status=active")),
              UnorderedElementsAre(backdoor_, redis_));
  EXPECT_THAT(Ids(GetJson("/api/v1/alerts?status=acknowledged")), ElementsAre(redis_));
  EXPECT_THAT(Ids(GetJson("/api/v1/alerts?status=resolved")), ElementsAre(ephemeral_));
  EXPECT_THAT(Ids(GetJson("/api/v1/alerts?severity=medium")),
              UnorderedElementsAre(backdoor_, redis_));
  EXPECT_THAT(Ids(GetJson("/api/v1/alerts?severity=high")), ElementsAre(backdoor_));
  EXPECT_THAT(Ids(GetJson("/api/v1/alerts?rule=unexpected_listener")), ElementsAre(backdoor_));
  EXPECT_TRUE(GetJson("/api/v1/alerts?rule=syn_flood")["alerts"].empty());
  EXPECT_EQ(GetJson("/api/v1/alerts?limit=1")["alerts"].size(), 1u);

  const json body = GetJson("/api/v1/alerts?status=open");
  const json& alert = body["alerts"][0];
  EXPECT_EQ(alert["severity"], "high");
  EXPECT_EQ(alert["status"], "open");
  EXPECT_EQ(alert["count"], 3);
  EXPECT_EQ(alert["kind"], "listener");
  EXPECT_EQ(alert["reasons"].size(), 2u);
  EXPECT_EQ(alert["reasons"][0]["rule"], "backdoor_port");
  EXPECT_TRUE(alert["resolved_at"].is_null());
  EXPECT_EQ(alert["first_evidence"]["proto"], "tcp");
}

TEST_F(AlertRoutesTest, OneAlertComesWithItsEventsAndItsDeliveries) {
  const json body = GetJson("/api/v1/alerts/" + std::to_string(backdoor_));
  EXPECT_EQ(body["id"], backdoor_);
  ASSERT_EQ(body["events"].size(), 1u);
  EXPECT_EQ(body["events"][0]["event"], "opened");
  std::vector<std::string> deliveries;
  for (const json& delivery : body["deliveries"]) {
    deliveries.push_back(delivery["target"].get<std::string>() + " " +
                         delivery["status"].get<std::string>());
    if (delivery["target"] == "hook") {
      EXPECT_EQ(delivery["response_code"], 410);
      EXPECT_THAT(delivery["last_error"].get<std::string>(), HasSubstr("webhook deleted"));
    }
  }
  EXPECT_THAT(deliveries, UnorderedElementsAre("ops-slack delivered", "hook failed"));
  EXPECT_THAT(ErrorOf(Get("/api/v1/alerts/999"), 404), HasSubstr("no alert with id 999"));
  EXPECT_THAT(ErrorOf(Get("/api/v1/alerts/abc"), 400), HasSubstr("alert id"));
  EXPECT_THAT(ErrorOf(Get("/api/v1/alerts/0"), 400), HasSubstr("alert id"));
}

TEST_F(AlertRoutesTest, AcknowledgingRecordsWhoIsOnIt) {
  httplib::Result result = Post("/api/v1/alerts/" + std::to_string(backdoor_) + "/ack", "");
  ASSERT_TRUE(result);
  ASSERT_EQ(result->status, 200) << result->body;
  EXPECT_EQ(json::parse(result->body)["status"], "acknowledged");
  // The store says so too, and the alert's events list it.
  EXPECT_EQ(store::FindAlert(db(), backdoor_)->value().status, store::AlertStatus::kAcknowledged);
  std::vector<std::string> events;
  const json shown = GetJson("/api/v1/alerts/" + std::to_string(backdoor_));
  for (const json& event : shown["events"]) {
    events.push_back(event["event"]);
  }
  EXPECT_THAT(events, Contains("acknowledged"));
  // A resolved alert has nothing to acknowledge.
  EXPECT_THAT(ErrorOf(Post("/api/v1/alerts/" + std::to_string(ephemeral_) + "/ack"), 409),
              HasSubstr("already resolved"));
  EXPECT_THAT(ErrorOf(Post("/api/v1/alerts/999/ack"), 404), HasSubstr("999"));
}

TEST_F(AlertRoutesTest, SilencingTakesADurationAndSetsWhenItEnds) {
  const int64_t before = NowMs();
  httplib::Result result =
      Post("/api/v1/alerts/" + std::to_string(redis_) + "/silence", R"({"for":"2h"})");
  ASSERT_TRUE(result);
  ASSERT_EQ(result->status, 200) << result->body;
  const std::optional<int64_t> until = store::FindAlert(db(), redis_)->value().silenced_until;
  ASSERT_TRUE(until.has_value());
  EXPECT_GE(*until, before + 2 * 3'600'000);
  EXPECT_LE(*until, NowMs() + 2 * 3'600'000);
  EXPECT_FALSE(json::parse(result->body)["silenced_until"].is_null());
}

TEST_F(AlertRoutesTest, AcceptingResolvesTheAlertAndRemembersItsSubjectForGood) {
  httplib::Result result = Post("/api/v1/alerts/" + std::to_string(backdoor_) + "/accept");
  ASSERT_TRUE(result);
  ASSERT_EQ(result->status, 200) << result->body;
  const json body = json::parse(result->body);
  EXPECT_TRUE(body["accepted"]);
  EXPECT_EQ(body["status"], "resolved");
  std::vector<std::string> accepted;
  Result<std::vector<store::Acceptance>> acceptances_stored = store::ListAcceptances(db());
  ASSERT_TRUE(acceptances_stored.ok()) << acceptances_stored.error().message;
  for (const store::Acceptance& acceptance : *acceptances_stored) {
    accepted.push_back(acceptance.subject + " " + acceptance.rule);
  }
  EXPECT_THAT(accepted, Contains("listener tcp/31337 program=/tmp/nc backdoor_port"));

  // Listed, and undone, through the API.
  httplib::Result listed = Get("/api/v1/acceptances");
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->status, 200) << listed->body;
  const json acceptances = json::parse(listed->body)["acceptances"];
  ASSERT_EQ(acceptances.size(), accepted.size());
  const int64_t first = acceptances[0]["id"];
  httplib::Result undone = Delete("/api/v1/acceptances/" + std::to_string(first));
  ASSERT_TRUE(undone);
  EXPECT_EQ(undone->status, 200) << undone->body;
  EXPECT_EQ(store::ListAcceptances(db())->size(), accepted.size() - 1);
  httplib::Result missing = Delete("/api/v1/acceptances/" + std::to_string(first));
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404) << missing->body;
}

// Every open dashboard hears of an operator's action at once, on the live stream; a refused
// action is no event.
TEST_F(AlertRoutesTest, EachActionIsALiveEventAndARefusedOneIsNot) {
  const int64_t before = live_->events().last_id();
  const std::string backdoor = "/api/v1/alerts/" + std::to_string(backdoor_);
  const std::string redis = "/api/v1/alerts/" + std::to_string(redis_);
  ASSERT_EQ(Post(backdoor + "/ack")->status, 200);
  ASSERT_EQ(Post(redis + "/silence", R"({"for":"30m"})")->status, 200);
  ASSERT_EQ(Post(backdoor + "/accept")->status, 200);
  ErrorOf(Post("/api/v1/alerts/" + std::to_string(ephemeral_) + "/ack"), 409);

  std::vector<std::string> seen;
  for (const StreamEvent& event : live_->events().WaitAfter(before, std::chrono::milliseconds(0))) {
    const json data = json::parse(event.data);
    seen.push_back(event.type + " " + std::to_string(data["id"].get<int64_t>()) + " " +
                   data["status"].get<std::string>());
  }
  EXPECT_THAT(seen, ElementsAre("alert_acknowledged " + std::to_string(backdoor_) + " acknowledged",
                                "alert_silenced " + std::to_string(redis_) + " acknowledged",
                                "alert_accepted " + std::to_string(backdoor_) + " resolved"));
}

TEST_F(AlertRoutesTest, MalformedActionsAreFourHundredsAndChangeNothing) {
  const std::string silence = "/api/v1/alerts/" + std::to_string(backdoor_) + "/silence";
  const std::string ack = "/api/v1/alerts/" + std::to_string(backdoor_) + "/ack";
  struct Case {
    std::string path;
    std::string body;
    int status;
    std::string mentions;
  } cases[] = {
      {silence, "", 400, "silence needs"},
      {silence, "{}", 400, "silence needs"},
      {silence, R"({"for":2})", 400, "silence needs"},
      {silence, R"({"for":"forever"})", 400, "for"},
      {silence, R"({"for":"0s"})", 400, "from 1s to 366d"},
      {silence, R"({"for":"400d"})", 400, "from 1s to 366d"},
      {silence, R"({"for":"2h","until":"tomorrow"})", 400, "unknown field 'until'"},
      {silence, R"({"for":"2h")", 400, "not a JSON object"},
      {silence, R"(["2h"])", 400, "not a JSON object"},
      {silence, "\xff\xfe", 400, "not a JSON object"},
      {ack, R"({"note":"on it"})", 400, "unknown field 'note'"},
      {"/api/v1/alerts/abc/ack", "", 400, "alert id"},
      {"/api/v1/alerts/-1/ack", "", 400, "alert id"},
      {"/api/v1/alerts/99999999999999999999/ack", "", 400, "alert id"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(ErrorOf(Post(c.path, c.body), c.status), HasSubstr(c.mentions))
        << c.path << " " << c.body;
  }
  httplib::Headers headers = {{"Authorization", std::string("Bearer ") + testing::kToken}};
  httplib::Result text = client_->Post(silence.c_str(), headers, "for=2h", "text/plain");
  EXPECT_THAT(ErrorOf(text, 415), HasSubstr("Content-Type: application/json"));
  httplib::Result get = Get(ack);
  EXPECT_THAT(ErrorOf(get, 405), HasSubstr("POST"));
  EXPECT_THAT(ErrorOf(Post(ack, "", /*token=*/false), 401), HasSubstr("portwatch token"));

  const store::Alert alert = store::FindAlert(db(), backdoor_)->value();
  EXPECT_EQ(alert.status, store::AlertStatus::kOpen);
  EXPECT_FALSE(alert.silenced_until.has_value());
  EXPECT_FALSE(alert.accepted);
}

TEST_F(AlertRoutesTest, BadListParametersAreFourHundreds) {
  EXPECT_THAT(ErrorOf(Get("/api/v1/alerts?status=closed"), 400), HasSubstr("status"));
  EXPECT_THAT(ErrorOf(Get("/api/v1/alerts?severity=urgent"), 400), HasSubstr("severity"));
  EXPECT_THAT(ErrorOf(Get("/api/v1/alerts?limit=0"), 400), HasSubstr("limit"));
  EXPECT_THAT(ErrorOf(Get("/api/v1/alerts?limit=10001"), 400), HasSubstr("limit"));
  EXPECT_THAT(ErrorOf(Get("/api/v1/alerts?owner=me"), 400), HasSubstr("owner"));
}

TEST_F(AlertRoutesTest, NotificationsCountEachTargetsDeliveriesAndListThem) {
  const json body = GetJson("/api/v1/notifications");
  EXPECT_EQ(body["targets"]["ops-slack"]["delivered"], 1);
  EXPECT_EQ(body["targets"]["ops-slack"]["failed"], 0);
  EXPECT_EQ(body["targets"]["hook"]["failed"], 1);
  EXPECT_EQ(body["deliveries"].size(), 2u);
  const json failed = GetJson("/api/v1/notifications?status=failed");
  ASSERT_EQ(failed["deliveries"].size(), 1u);
  EXPECT_EQ(failed["deliveries"][0]["target"], "hook");
  EXPECT_EQ(failed["deliveries"][0]["alert_id"], backdoor_);
  EXPECT_EQ(GetJson("/api/v1/notifications?target=ops-slack")["deliveries"].size(), 1u);
  EXPECT_THAT(ErrorOf(Get("/api/v1/notifications?status=lost"), 400), HasSubstr("status"));
}

}  // namespace
}  // namespace portwatch::api
