// Outbox: which targets take which alert events, and the rows queued for them in SQLite.

#include "agent/notify/outbox.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "store/database.h"
#include "store/deliveries.h"
#include "tests/support/temp_dir.h"

namespace portwatch::agent::notify {
namespace {

using store::AlertEventKind;

constexpr int64_t kNow = 1'790'000'000'000;

store::Alert Alert(int severity, const std::string& rule) {
  store::Alert alert;
  alert.id = 1;
  alert.severity = severity;
  alert.reasons = R"([{"rule":"unexpected_listener","severity":"low","mitre":"","reason":"x"},)"
                  R"({"rule":")" +
                  rule + R"(","severity":"high","mitre":"","reason":"y"}])";
  return alert;
}

TargetConfig Target(std::string name) {
  TargetConfig target;
  target.name = std::move(name);
  target.type = "webhook";
  target.url = "http://127.0.0.1:9/hook";
  return target;
}

TEST(Outbox, TakesOpeningsReopeningsEscalationsAndResolutions) {
  const TargetConfig target = Target("t");
  const store::Alert alert = Alert(4, "backdoor_port");
  EXPECT_TRUE(Takes(target, alert, AlertEventKind::kOpened, kNow));
  EXPECT_TRUE(Takes(target, alert, AlertEventKind::kReopened, kNow));
  EXPECT_TRUE(Takes(target, alert, AlertEventKind::kEscalated, kNow));
  EXPECT_TRUE(Takes(target, alert, AlertEventKind::kResolved, kNow));
  // The operator's own actions are not announced back to them.
  EXPECT_FALSE(Takes(target, alert, AlertEventKind::kAcknowledged, kNow));
  EXPECT_FALSE(Takes(target, alert, AlertEventKind::kSilenced, kNow));
  EXPECT_FALSE(Takes(target, alert, AlertEventKind::kAccepted, kNow));
}

TEST(Outbox, LeavesOutResolutionsWhenTheTargetDoesNotSendThem) {
  TargetConfig target = Target("t");
  target.send_resolved = false;
  EXPECT_TRUE(Takes(target, Alert(4, "backdoor_port"), AlertEventKind::kOpened, kNow));
  EXPECT_FALSE(Takes(target, Alert(4, "backdoor_port"), AlertEventKind::kResolved, kNow));
}

TEST(Outbox, FiltersBySeverityAndRule) {
  TargetConfig target = Target("t");
  target.min_severity = 4;
  EXPECT_FALSE(Takes(target, Alert(3, "backdoor_port"), AlertEventKind::kOpened, kNow));
  EXPECT_TRUE(Takes(target, Alert(4, "backdoor_port"), AlertEventKind::kOpened, kNow));
  target.rules = {"sensitive_exposed", "backdoor_port"};
  EXPECT_TRUE(Takes(target, Alert(5, "backdoor_port"), AlertEventKind::kOpened, kNow));
  EXPECT_FALSE(Takes(target, Alert(5, "raw_socket"), AlertEventKind::kOpened, kNow));
  store::Alert broken = Alert(5, "backdoor_port");
  broken.reasons = "not json";
  EXPECT_FALSE(Takes(target, broken, AlertEventKind::kOpened, kNow));
}

TEST(Outbox, SkipsSilencedAndAcceptedAlerts) {
  const TargetConfig target = Target("t");
  store::Alert silenced = Alert(5, "backdoor_port");
  silenced.silenced_until = kNow + 1;
  EXPECT_FALSE(Takes(target, silenced, AlertEventKind::kOpened, kNow));
  EXPECT_FALSE(Takes(target, silenced, AlertEventKind::kResolved, kNow));
  silenced.silenced_until = kNow;  // the silence is over
  EXPECT_TRUE(Takes(target, silenced, AlertEventKind::kOpened, kNow));
  store::Alert accepted = Alert(5, "backdoor_port");
  accepted.accepted = true;
  EXPECT_FALSE(Takes(target, accepted, AlertEventKind::kResolved, kNow));
}

TEST(Outbox, QueuesOneRowPerTargetThatTakesTheEvent) {
  portwatch::testing::TempDir dir;
  Result<store::Database> db = store::Database::Open(dir.path() + "/history.db");
  ASSERT_TRUE(db.ok()) << db.error().message;
  store::Alert alert = Alert(4, "backdoor_port");
  alert.fingerprint = "f";
  alert.subject = "s";
  alert.kind = 1;
  alert.title = "t";
  alert.first_evidence = alert.last_evidence = "{}";
  Result<int64_t> alert_id = store::InsertAlert(*db, alert);
  ASSERT_TRUE(alert_id.ok());
  alert.id = *alert_id;
  Result<int64_t> event =
      store::InsertAlertEvent(*db, {0, *alert_id, kNow, AlertEventKind::kOpened, ""});
  ASSERT_TRUE(event.ok());

  TargetConfig picky = Target("picky");
  picky.min_severity = 5;
  const Outbox outbox({Target("chat"), picky, Target("hook")});
  Result<int> queued = outbox.Enqueue(*db, *event, alert, AlertEventKind::kOpened, kNow);
  ASSERT_TRUE(queued.ok()) << queued.error().message;
  EXPECT_EQ(*queued, 2);
  std::vector<std::string> targets;
  Result<std::vector<store::Delivery>> due = store::DueDeliveries(*db, kNow, 10);
  ASSERT_TRUE(due.ok());
  for (const store::Delivery& row : *due) {
    targets.push_back(row.target);
    EXPECT_EQ(row.event_id, *event);
  }
  EXPECT_THAT(targets, ::testing::ElementsAre("chat", "hook"));
}

}  // namespace
}  // namespace portwatch::agent::notify
