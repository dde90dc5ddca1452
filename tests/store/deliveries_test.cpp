// store/deliveries on SQLite in a temporary file: the outbox's queue, attempts, expiry, listing.

#include "store/deliveries.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "tests/store/store_test_support.h"
#include "tests/support/temp_dir.h"

namespace portwatch::store {
namespace {

using portwatch::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::kT0;
using testing::OpenOrDie;

std::vector<int64_t> EventIds(const Result<std::vector<Delivery>>& deliveries) {
  EXPECT_TRUE(deliveries.ok()) << deliveries.error().message;
  std::vector<int64_t> ids;
  if (deliveries.ok()) {
    for (const Delivery& delivery : *deliveries) ids.push_back(delivery.event_id);
  }
  return ids;
}

class DeliveriesTest : public ::testing::Test {
 protected:
  DeliveriesTest() : db_(OpenOrDie(dir_.path() + "/history.db")) {
    Alert alert;
    alert.fingerprint = "f";
    alert.subject = "listener tcp/31337";
    alert.kind = 1;
    alert.severity = 4;
    alert.title = "t";
    alert.reasons = "[]";
    alert.first_seen = alert.last_seen = kT0;
    alert.first_evidence = alert.last_evidence = "{}";
    Result<int64_t> id = InsertAlert(db_, alert);
    EXPECT_TRUE(id.ok());
    alert_id_ = id.ok() ? *id : 0;
    for (int i = 0; i < 3; ++i) {
      Result<int64_t> event =
          InsertAlertEvent(db_, {0, alert_id_, kT0 + i,
                                 i == 2 ? AlertEventKind::kResolved : AlertEventKind::kOpened, ""});
      EXPECT_TRUE(event.ok());
      events_.push_back(event.ok() ? *event : 0);
    }
  }

  TempDir dir_;
  Database db_;
  int64_t alert_id_ = 0;
  std::vector<int64_t> events_;
};

TEST_F(DeliveriesTest, QueuesEachEventOncePerTarget) {
  ASSERT_TRUE(EnqueueDelivery(db_, events_[0], "slack", kT0).ok());
  ASSERT_TRUE(EnqueueDelivery(db_, events_[0], "slack", kT0 + 5).ok());
  ASSERT_TRUE(EnqueueDelivery(db_, events_[0], "hook", kT0).ok());
  Result<std::vector<Delivery>> due = DueDeliveries(db_, kT0, 10);
  ASSERT_TRUE(due.ok()) << due.error().message;
  ASSERT_EQ(due->size(), 2u);
  EXPECT_EQ((*due)[0].target, "slack");
  EXPECT_EQ((*due)[0].status, DeliveryStatus::kPending);
  EXPECT_EQ((*due)[0].alert_id, alert_id_);
  EXPECT_EQ((*due)[0].event_kind, AlertEventKind::kOpened);
  EXPECT_EQ((*due)[0].event_at, kT0);
  EXPECT_EQ((*due)[0].created_at, kT0);
  EXPECT_EQ((*due)[1].target, "hook");
}

TEST_F(DeliveriesTest, DueRowsComeOldestFirstAndOnlyWhenDue) {
  for (int64_t event : events_) ASSERT_TRUE(EnqueueDelivery(db_, event, "slack", kT0).ok());
  Result<std::vector<Delivery>> due = DueDeliveries(db_, kT0, 10);
  ASSERT_TRUE(due.ok());
  ASSERT_TRUE(RecordRetry(db_, (*due)[0].id, kT0, kT0 + 1000, 503, "HTTP 503").ok());
  EXPECT_THAT(EventIds(DueDeliveries(db_, kT0 + 999, 10)), ElementsAre(events_[1], events_[2]));
  EXPECT_THAT(EventIds(DueDeliveries(db_, kT0 + 1000, 10)),
              ElementsAre(events_[0], events_[1], events_[2]));
  EXPECT_THAT(EventIds(DueDeliveries(db_, kT0 + 1000, 1)), ElementsAre(events_[0]));
  Result<std::optional<int64_t>> next = NextDeliveryDue(db_);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, kT0);
}

TEST_F(DeliveriesTest, RecordsEachAttempt) {
  ASSERT_TRUE(EnqueueDelivery(db_, events_[0], "slack", kT0).ok());
  const int64_t id = (*DueDeliveries(db_, kT0, 1))[0].id;
  ASSERT_TRUE(RecordRetry(db_, id, kT0 + 1, kT0 + 2, std::nullopt, "connection refused").ok());
  ASSERT_TRUE(RecordRetry(db_, id, kT0 + 2, kT0 + 4, 429, "HTTP 429").ok());
  ASSERT_TRUE(RecordDelivered(db_, id, kT0 + 4, 200).ok());
  Result<std::vector<Delivery>> listed = ListDeliveries(db_, {});
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  const Delivery& delivery = (*listed)[0];
  EXPECT_EQ(delivery.status, DeliveryStatus::kDelivered);
  EXPECT_EQ(delivery.attempts, 3);
  EXPECT_EQ(delivery.last_attempt_at, kT0 + 4);
  EXPECT_EQ(delivery.response_code, 200);
  EXPECT_EQ(delivery.last_error, "");
  Result<std::optional<int64_t>> next = NextDeliveryDue(db_);
  ASSERT_TRUE(next.ok());
  EXPECT_FALSE(next->has_value());
}

TEST_F(DeliveriesTest, PostponingCountsNoAttempt) {
  ASSERT_TRUE(EnqueueDelivery(db_, events_[0], "slack", kT0).ok());
  const int64_t id = (*DueDeliveries(db_, kT0, 1))[0].id;
  ASSERT_TRUE(Postpone(db_, id, kT0 + 60'000, "rate limited").ok());
  const Delivery delivery = (*ListDeliveries(db_, {}))[0];
  EXPECT_EQ(delivery.attempts, 0);
  EXPECT_EQ(delivery.next_attempt_at, kT0 + 60'000);
  EXPECT_EQ(delivery.last_error, "rate limited");
}

TEST_F(DeliveriesTest, FailedRowsKeepTheReason) {
  ASSERT_TRUE(EnqueueDelivery(db_, events_[0], "slack", kT0).ok());
  const int64_t id = (*DueDeliveries(db_, kT0, 1))[0].id;
  ASSERT_TRUE(RecordFailed(db_, id, kT0 + 1, 400, "HTTP 400: invalid_token").ok());
  EXPECT_TRUE(DueDeliveries(db_, kT0 + 10'000'000, 10)->empty());
  DeliveryFilter failed;
  failed.status = DeliveryStatus::kFailed;
  Result<std::vector<Delivery>> listed = ListDeliveries(db_, failed);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].response_code, 400);
  EXPECT_EQ((*listed)[0].last_error, "HTTP 400: invalid_token");
}

TEST_F(DeliveriesTest, ExpiresOnlyPendingRowsQueuedBeforeTheCutoff) {
  ASSERT_TRUE(EnqueueDelivery(db_, events_[0], "slack", kT0).ok());
  ASSERT_TRUE(EnqueueDelivery(db_, events_[1], "slack", kT0 + 100).ok());
  ASSERT_TRUE(EnqueueDelivery(db_, events_[2], "slack", kT0).ok());
  const std::vector<Delivery> due = *DueDeliveries(db_, kT0 + 100, 10);
  ASSERT_TRUE(
      RecordRetry(db_, due[0].id, kT0 + 1, kT0 + 2, std::nullopt, "connection refused").ok());
  ASSERT_TRUE(RecordDelivered(db_, due[2].id, kT0 + 1, 200).ok());

  Result<int64_t> expired = ExpireDeliveries(db_, kT0 + 50, "not delivered within 24h");
  ASSERT_TRUE(expired.ok()) << expired.error().message;
  EXPECT_EQ(*expired, 1);
  const std::vector<Delivery> all = *ListDeliveries(db_, {});
  ASSERT_EQ(all.size(), 3u);  // newest first
  EXPECT_EQ(all[2].status, DeliveryStatus::kFailed);
  EXPECT_EQ(all[2].last_error, "not delivered within 24h: connection refused");
  EXPECT_EQ(all[1].status, DeliveryStatus::kPending);
  EXPECT_EQ(all[0].status, DeliveryStatus::kDelivered);
}

TEST_F(DeliveriesTest, RequeuesFailedRowsAsNew) {
  ASSERT_TRUE(EnqueueDelivery(db_, events_[0], "slack", kT0).ok());
  ASSERT_TRUE(EnqueueDelivery(db_, events_[1], "slack", kT0).ok());
  const std::vector<Delivery> due = *DueDeliveries(db_, kT0, 10);
  ASSERT_TRUE(RecordFailed(db_, due[0].id, kT0 + 1, 404, "HTTP 404").ok());

  Result<int64_t> pending_one = RequeueFailed(db_, due[1].id, "", kT0 + 5);
  ASSERT_FALSE(pending_one.ok());
  EXPECT_THAT(pending_one.error().message, HasSubstr("no failed delivery with id"));

  Result<int64_t> other_target = RequeueFailed(db_, std::nullopt, "hook", kT0 + 5);
  ASSERT_TRUE(other_target.ok());
  EXPECT_EQ(*other_target, 0);
  Result<int64_t> requeued = RequeueFailed(db_, std::nullopt, "slack", kT0 + 5);
  ASSERT_TRUE(requeued.ok()) << requeued.error().message;
  EXPECT_EQ(*requeued, 1);
  const Delivery again = ListDeliveries(db_, {})->back();
  EXPECT_EQ(again.status, DeliveryStatus::kPending);
  EXPECT_EQ(again.attempts, 0);
  EXPECT_EQ(again.created_at, kT0 + 5);
  EXPECT_EQ(again.last_error, "HTTP 404");  // kept until the next attempt says otherwise
  EXPECT_THAT(EventIds(DueDeliveries(db_, kT0 + 5, 10)), ElementsAre(events_[0], events_[1]));
}

TEST_F(DeliveriesTest, ListsAndCountsByTargetAndAlert) {
  ASSERT_TRUE(EnqueueDelivery(db_, events_[0], "slack", kT0).ok());
  ASSERT_TRUE(EnqueueDelivery(db_, events_[1], "slack", kT0).ok());
  ASSERT_TRUE(EnqueueDelivery(db_, events_[0], "hook", kT0).ok());
  const int64_t first = (*DueDeliveries(db_, kT0, 1))[0].id;
  ASSERT_TRUE(RecordFailed(db_, first, kT0, 404, "HTTP 404").ok());

  DeliveryFilter hook;
  hook.target = "hook";
  EXPECT_THAT(EventIds(ListDeliveries(db_, hook)), ElementsAre(events_[0]));
  DeliveryFilter other_alert;
  other_alert.alert_id = alert_id_ + 1;
  EXPECT_TRUE(ListDeliveries(db_, other_alert)->empty());

  Result<std::map<std::string, DeliveryCounts>> counts = CountDeliveries(db_);
  ASSERT_TRUE(counts.ok());
  ASSERT_EQ(counts->size(), 2u);
  EXPECT_EQ(counts->at("slack").pending, 1);
  EXPECT_EQ(counts->at("slack").failed, 1);
  EXPECT_EQ(counts->at("hook").pending, 1);
  EXPECT_EQ(counts->at("hook").delivered, 0);
}

TEST_F(DeliveriesTest, SkippedRowsAreClosedWithoutAnAttempt) {
  ASSERT_TRUE(EnqueueDelivery(db_, events_[0], "slack", kT0).ok());
  const int64_t id = (*DueDeliveries(db_, kT0, 1))[0].id;
  ASSERT_TRUE(RecordSkipped(db_, id, kT0 + 1, "the alert was silenced").ok());
  EXPECT_TRUE(DueDeliveries(db_, kT0 + 10'000'000, 10)->empty());
  const Delivery row = (*ListDeliveries(db_, {}))[0];
  EXPECT_EQ(row.status, DeliveryStatus::kSkipped);
  EXPECT_EQ(row.attempts, 0);
  EXPECT_EQ(row.last_error, "the alert was silenced");
  EXPECT_EQ(CountDeliveries(db_)->at("slack").skipped, 1);
}

TEST_F(DeliveriesTest, MakingPendingRowsDueLeavesEarlierOnesAndClosedOnesAlone) {
  for (int64_t event : events_) ASSERT_TRUE(EnqueueDelivery(db_, event, "slack", kT0).ok());
  const std::vector<Delivery> due = *DueDeliveries(db_, kT0, 10);
  ASSERT_TRUE(Postpone(db_, due[0].id, kT0 + 60'000, "").ok());
  ASSERT_TRUE(RecordFailed(db_, due[2].id, kT0, 400, "HTTP 400").ok());
  ASSERT_TRUE(MakePendingDue(db_, kT0 + 5).ok());
  EXPECT_THAT(EventIds(DueDeliveries(db_, kT0 + 5, 10)), ElementsAre(events_[0], events_[1]));
  const std::vector<Delivery> all = *ListDeliveries(db_, {});
  EXPECT_EQ(all[2].next_attempt_at, kT0 + 5);
  EXPECT_EQ(all[1].next_attempt_at, kT0);  // was due already
}

TEST_F(DeliveriesTest, TheOutboxIdIsMadeOnceAndKept) {
  Result<std::string> first = OutboxId(db_);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->size(), 16u);
  Database other = OpenOrDie(dir_.path() + "/history.db");
  EXPECT_EQ(OutboxId(other).value(), *first);
  TempDir elsewhere;
  Database second = OpenOrDie(elsewhere.path() + "/history.db");
  EXPECT_NE(OutboxId(second).value(), *first);
}

TEST_F(DeliveriesTest, GoWithTheirAlert) {
  ASSERT_TRUE(EnqueueDelivery(db_, events_[0], "slack", kT0).ok());
  ASSERT_TRUE(db_.Execute("DELETE FROM alerts").ok());
  EXPECT_TRUE(ListDeliveries(db_, {})->empty());
}

TEST_F(DeliveriesTest, AnAttemptOnAMissingRowIsAnError) {
  Result<void> missing = RecordDelivered(db_, 12345, kT0, 200);
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().message, HasSubstr("no delivery with id 12345"));
}

TEST(DeliveryStatus, NamesRoundTrip) {
  for (DeliveryStatus status : {DeliveryStatus::kPending, DeliveryStatus::kDelivered,
                                DeliveryStatus::kFailed, DeliveryStatus::kSkipped}) {
    EXPECT_EQ(ParseDeliveryStatus(DeliveryStatusName(status)), status);
  }
  EXPECT_EQ(ParseDeliveryStatus("sent"), std::nullopt);
}

}  // namespace
}  // namespace portwatch::store
