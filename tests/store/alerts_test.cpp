// store/alerts on SQLite in a temporary file: listing with filters, and the operator's actions.

#include "store/alerts.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
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

Alert Make(std::string subject, int severity, std::string rule, int64_t last_seen) {
  Alert alert;
  alert.fingerprint = "f-" + subject;
  alert.subject = std::move(subject);
  alert.kind = 1;
  alert.severity = severity;
  alert.title = "title";
  alert.reasons = R"([{"rule":")" + rule + R"(","severity":"high","mitre":"","reason":"r"}])";
  alert.first_seen = alert.last_seen = last_seen;
  alert.first_evidence = alert.last_evidence = "{}";
  return alert;
}

std::vector<std::string> Subjects(const Result<std::vector<Alert>>& alerts) {
  EXPECT_TRUE(alerts.ok()) << alerts.error().message;
  std::vector<std::string> subjects;
  if (alerts.ok()) {
    for (const Alert& alert : *alerts) subjects.push_back(alert.subject);
  }
  return subjects;
}

class AlertsTest : public ::testing::Test {
 protected:
  AlertsTest() : db_(OpenOrDie(dir_.path() + "/history.db")) {
    for (const Alert& alert :
         {Make("a", 2, "dynamic_range_listener", kT0 + 1), Make("b", 4, "backdoor_port", kT0 + 2),
          Make("c", 5, "backdoor_port", kT0 + 3)}) {
      Result<int64_t> id = InsertAlert(db_, alert);
      EXPECT_TRUE(id.ok());
      ids_.push_back(id.ok() ? *id : 0);
    }
  }

  TempDir dir_;
  Database db_;
  std::vector<int64_t> ids_;
};

TEST_F(AlertsTest, ListsNewestFirstWithFilters) {
  EXPECT_THAT(Subjects(ListAlerts(db_, {})), ElementsAre("c", "b", "a"));
  AlertFilter high;
  high.min_severity = 4;
  EXPECT_THAT(Subjects(ListAlerts(db_, high)), ElementsAre("c", "b"));
  AlertFilter by_rule;
  by_rule.rule = "dynamic_range_listener";
  EXPECT_THAT(Subjects(ListAlerts(db_, by_rule)), ElementsAre("a"));
  AlertFilter limited;
  limited.limit = 1;
  EXPECT_THAT(Subjects(ListAlerts(db_, limited)), ElementsAre("c"));
}

TEST_F(AlertsTest, AcceptingRecordsEachRuleWithItsSeverityAndExecutableAndCanBeUndone) {
  Alert alert = Make("listener tcp/4444", 3, "unexpected_listener", kT0);
  alert.reasons = R"([{"rule":"unexpected_listener","severity":"medium","mitre":"","reason":"r",)"
                  R"("exe":"/opt/x/bin/x","exe_device":2049,"exe_inode":77,"exe_mtime_ns":5},)"
                  R"({"rule":"dynamic_range_listener","severity":"low","mitre":"","reason":"r"}])";
  Result<int64_t> id = InsertAlert(db_, alert);
  ASSERT_TRUE(id.ok()) << id.error().message;
  ASSERT_TRUE(AcceptAlert(db_, *id, kT0 + 1).ok());
  Result<std::vector<Acceptance>> acceptances = ListAcceptances(db_);
  ASSERT_TRUE(acceptances.ok()) << acceptances.error().message;
  ASSERT_EQ(acceptances->size(), 2u);
  const Acceptance& listener = (*acceptances)[0];
  EXPECT_EQ(listener.subject, "listener tcp/4444");
  EXPECT_EQ(listener.rule, "unexpected_listener");
  EXPECT_EQ(listener.severity, 3);
  EXPECT_EQ(listener.exe, "/opt/x/bin/x");
  EXPECT_EQ(listener.exe_device, 2049u);
  EXPECT_EQ(listener.exe_inode, 77u);
  EXPECT_EQ(listener.exe_mtime_ns, 5);
  EXPECT_EQ((*acceptances)[1].rule, "dynamic_range_listener");
  EXPECT_EQ((*acceptances)[1].severity, 2);
  EXPECT_EQ((*acceptances)[1].exe, "");
  EXPECT_EQ((*acceptances)[1].exe_inode, 0u);

  // Accepting again replaces, never duplicates.
  ASSERT_TRUE(AcceptAlert(db_, *id, kT0 + 2).ok());
  EXPECT_EQ(ListAcceptances(db_)->size(), 2u);

  Result<Acceptance> removed = RemoveAcceptance(db_, listener.id);
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  EXPECT_EQ(removed->rule, "unexpected_listener");
  EXPECT_EQ(ListAcceptances(db_)->size(), 1u);
  Result<Acceptance> again = RemoveAcceptance(db_, listener.id);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("no acceptance with id"), std::string::npos);
}

TEST_F(AlertsTest, AcknowledgeSilenceAndAcceptEachRecordAnEvent) {
  Result<Alert> acknowledged = AcknowledgeAlert(db_, ids_[0], kT0 + 10);
  ASSERT_TRUE(acknowledged.ok()) << acknowledged.error().message;
  EXPECT_EQ(acknowledged->status, AlertStatus::kAcknowledged);

  Result<Alert> silenced = SilenceAlert(db_, ids_[1], kT0 + 3'600'000, kT0 + 20);
  ASSERT_TRUE(silenced.ok()) << silenced.error().message;
  EXPECT_EQ(silenced->silenced_until, kT0 + 3'600'000);
  EXPECT_EQ(silenced->status, AlertStatus::kOpen) << "silencing is not acknowledging";

  Result<Alert> accepted = AcceptAlert(db_, ids_[2], kT0 + 30);
  ASSERT_TRUE(accepted.ok()) << accepted.error().message;
  EXPECT_TRUE(accepted->accepted);
  EXPECT_EQ(accepted->status, AlertStatus::kResolved);
  EXPECT_EQ(accepted->resolved_at, kT0 + 30);
  Result<std::vector<Acceptance>> acceptances = ListAcceptances(db_);
  ASSERT_TRUE(acceptances.ok()) << acceptances.error().message;
  ASSERT_EQ(acceptances->size(), 1u);
  EXPECT_EQ((*acceptances)[0].subject, "c");
  EXPECT_EQ((*acceptances)[0].rule, "backdoor_port");
  EXPECT_EQ((*acceptances)[0].severity, 4) << "the reason's severity (high), not the alert's";
  EXPECT_EQ((*acceptances)[0].alert_id, ids_[2]);

  AlertFilter active;
  active.active_only = true;
  EXPECT_THAT(Subjects(ListAlerts(db_, active)), ElementsAre("b", "a"));
  AlertFilter acknowledged_only;
  acknowledged_only.status = AlertStatus::kAcknowledged;
  EXPECT_THAT(Subjects(ListAlerts(db_, acknowledged_only)), ElementsAre("a"));

  for (size_t i = 0; i < ids_.size(); ++i) {
    Result<std::vector<AlertEvent>> events = AlertEvents(db_, ids_[i]);
    ASSERT_TRUE(events.ok());
    ASSERT_EQ(events->size(), 1u) << "alert " << ids_[i];
  }
  EXPECT_EQ((*AlertEvents(db_, ids_[0]))[0].kind, AlertEventKind::kAcknowledged);
  EXPECT_EQ((*AlertEvents(db_, ids_[1]))[0].kind, AlertEventKind::kSilenced);
  EXPECT_EQ((*AlertEvents(db_, ids_[2]))[0].kind, AlertEventKind::kAccepted);
}

TEST_F(AlertsTest, ActingOnAMissingOrResolvedAlertIsAClearErrorAndChangesNothing) {
  Result<Alert> missing = AcknowledgeAlert(db_, 999, kT0);
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().message, HasSubstr("no alert with id 999"));
  ASSERT_TRUE(AcceptAlert(db_, ids_[0], kT0 + 1).ok());
  Result<Alert> late = AcknowledgeAlert(db_, ids_[0], kT0 + 2);
  ASSERT_FALSE(late.ok());
  EXPECT_THAT(late.error().message, HasSubstr("already resolved"));
  EXPECT_EQ((*FindAlert(db_, ids_[0]))->status, AlertStatus::kResolved);
  EXPECT_EQ(AlertEvents(db_, ids_[0])->size(), 1u) << "only the accept";
}

TEST(AlertStatus, NamesRoundTrip) {
  for (const AlertStatus status :
       {AlertStatus::kOpen, AlertStatus::kAcknowledged, AlertStatus::kResolved}) {
    EXPECT_EQ(ParseAlertStatus(AlertStatusName(status)), status);
  }
  EXPECT_FALSE(ParseAlertStatus("closed").has_value());
}

}  // namespace
}  // namespace portwatch::store
