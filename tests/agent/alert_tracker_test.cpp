// AlertTracker on SQLite in a temporary file: one alert per subject, repeats counted, resolve,
// reopen, and operators' actions from another connection.

#include "agent/alert_tracker.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "store/alerts.h"
#include "store/database.h"
#include "store/deliveries.h"
#include "store/history_writer.h"
#include "tests/support/snapshot_builder.h"
#include "tests/support/temp_dir.h"

namespace portwatch::agent {
namespace {

using portwatch::testing::Listener;
using portwatch::testing::Proc;
using portwatch::testing::SnapshotBuilder;
using portwatch::testing::TempDir;
using rules::Finding;
using rules::Severity;
using store::AlertEventKind;
using store::AlertStatus;
using ::testing::HasSubstr;

constexpr int64_t kT0 = 1'790'000'000'000;
constexpr int64_t kSecond = 1000;
constexpr char kSubject[] = "listener tcp/31337 exposure=all program=/tmp/nc user=alice";

Finding About(int64_t socket, std::string rule = "backdoor_port",
              Severity severity = Severity::kHigh) {
  Finding finding;
  finding.rule = std::move(rule);
  finding.severity = severity;
  finding.mitre = "T1571";
  finding.reason = "listens on 31337";
  finding.subject = kSubject;
  finding.socket = socket;
  return finding;
}

// A snapshot with nc listening on 31337, once per cookie given.
collectors::Snapshot Listening(int64_t at, std::vector<uint64_t> cookies) {
  SnapshotBuilder builder(at);
  for (const uint64_t cookie : cookies) {
    builder.Add(Listener(cookie, "0.0.0.0", 31337), Proc(4242, 7, "nc"));
  }
  return builder.Build();
}

class AlertTrackerTest : public ::testing::Test {
 protected:
  AlertTrackerTest() : db_(Open()) {}

  store::Database Open() {
    Result<store::Database> db = store::Database::Open(dir_.path() + "/history.db");
    EXPECT_TRUE(db.ok()) << db.error().message;
    return std::move(db).value();
  }

  AlertTracker NewTracker(std::chrono::milliseconds resolve_after = {}) {
    Result<AlertTracker> tracker =
        AlertTracker::Create(db_, {std::chrono::minutes(10), resolve_after});
    EXPECT_TRUE(tracker.ok()) << tracker.error().message;
    return std::move(tracker).value();
  }

  std::vector<AlertChange> Update(AlertTracker& tracker, const collectors::Snapshot& snapshot,
                                  const std::vector<Finding>& findings) {
    AlertUpdate update = tracker.Update(snapshot, findings, store::ToMillis(snapshot.taken_at));
    EXPECT_FALSE(update.store_error) << update.store_error->message;
    return update.changes;
  }

  std::vector<store::Alert> All() {
    Result<std::vector<store::Alert>> alerts = store::ListAlerts(db_, {});
    EXPECT_TRUE(alerts.ok());
    return alerts.ok() ? *alerts : std::vector<store::Alert>{};
  }

  TempDir dir_;
  store::Database db_;
};

TEST_F(AlertTrackerTest, ALastingConditionIsOneAlertNotOneAnInterval) {
  AlertTracker tracker = NewTracker();
  const std::vector<AlertChange> opened = Update(tracker, Listening(kT0, {1}), {About(0)});
  ASSERT_EQ(opened.size(), 1u);
  EXPECT_EQ(opened[0].kind, AlertEventKind::kOpened);
  EXPECT_GT(opened[0].alert.id, 0);
  EXPECT_EQ(opened[0].alert.fingerprint, Fingerprint(kSubject));
  EXPECT_THAT(opened[0].alert.title, HasSubstr("nc (pid 4242, user alice) listens on"));
  for (int i = 1; i <= 30; ++i) {
    EXPECT_TRUE(Update(tracker, Listening(kT0 + i * kSecond, {1}), {About(0)}).empty());
  }
  const std::vector<store::Alert> alerts = All();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].count, 1);
  EXPECT_EQ(alerts[0].status, AlertStatus::kOpen);
}

TEST_F(AlertTrackerTest, ANewSocketBehindTheSameSubjectCountsAsARepeat) {
  AlertTracker tracker = NewTracker();
  Update(tracker, Listening(kT0, {1}), {About(0)});
  // The program reopens its listener: a new socket, the same subject.
  EXPECT_TRUE(Update(tracker, Listening(kT0 + kSecond, {2}), {About(0)}).empty());
  EXPECT_TRUE(Update(tracker, Listening(kT0 + 2 * kSecond, {2, 3}), {About(0), About(1)}).empty());
  const std::vector<store::Alert> alerts = All();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].count, 3);
  EXPECT_EQ(alerts[0].last_seen, kT0 + 2 * kSecond);
}

TEST_F(AlertTrackerTest, SeveralRulesAboutOneSubjectAreOneAlertAtTheHighestSeverity) {
  AlertTracker tracker = NewTracker();
  Update(tracker, Listening(kT0, {1}), {About(0, "unexpected_listener", Severity::kMedium)});
  const std::vector<AlertChange> escalated =
      Update(tracker, Listening(kT0 + kSecond, {1}),
             {About(0, "unexpected_listener", Severity::kMedium), About(0, "suspicious_exe")});
  ASSERT_EQ(escalated.size(), 1u);
  EXPECT_EQ(escalated[0].kind, AlertEventKind::kEscalated);
  const std::vector<store::Alert> alerts = All();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].severity, static_cast<int>(Severity::kHigh));
  EXPECT_THAT(alerts[0].reasons, HasSubstr("suspicious_exe"));
  EXPECT_THAT(alerts[0].reasons, HasSubstr("unexpected_listener"));
}

TEST_F(AlertTrackerTest, ResolvesWhenTheConditionEndsAndReopensWhenItComesBackSoon) {
  AlertTracker tracker = NewTracker();
  const int64_t id = Update(tracker, Listening(kT0, {1}), {About(0)})[0].alert.id;
  const std::vector<AlertChange> resolved = Update(tracker, Listening(kT0 + kSecond, {}), {});
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0].kind, AlertEventKind::kResolved);
  EXPECT_EQ(resolved[0].alert.resolved_at, kT0 + kSecond);

  const std::vector<AlertChange> reopened =
      Update(tracker, Listening(kT0 + 60 * kSecond, {5}), {About(0)});
  ASSERT_EQ(reopened.size(), 1u);
  EXPECT_EQ(reopened[0].kind, AlertEventKind::kReopened);
  EXPECT_EQ(reopened[0].alert.id, id);
  EXPECT_EQ(reopened[0].alert.count, 2);

  // Resolved for longer than reopen_within: the next time is a new alert.
  Update(tracker, Listening(kT0 + 61 * kSecond, {}), {});
  const std::vector<AlertChange> fresh =
      Update(tracker, Listening(kT0 + 61 * kSecond + 11 * 60 * kSecond, {6}), {About(0)});
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_EQ(fresh[0].kind, AlertEventKind::kOpened);
  EXPECT_NE(fresh[0].alert.id, id);

  Result<std::vector<store::AlertEvent>> events = store::AlertEvents(db_, id);
  ASSERT_TRUE(events.ok());
  std::vector<AlertEventKind> kinds;
  for (const store::AlertEvent& event : *events) kinds.push_back(event.kind);
  EXPECT_THAT(kinds, ::testing::ElementsAre(AlertEventKind::kOpened, AlertEventKind::kResolved,
                                            AlertEventKind::kReopened, AlertEventKind::kResolved));
}

TEST_F(AlertTrackerTest, ARestartedTrackerContinuesTheOpenAlert) {
  int64_t id = 0;
  {
    AlertTracker tracker = NewTracker();
    id = Update(tracker, Listening(kT0, {1}), {About(0)})[0].alert.id;
  }
  AlertTracker restarted = NewTracker();
  EXPECT_EQ(restarted.active_count(), 1u);
  EXPECT_TRUE(Update(restarted, Listening(kT0 + kSecond, {1}), {About(0)}).empty());
  const std::vector<store::Alert> alerts = All();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].id, id);
  EXPECT_EQ(alerts[0].count, 1);
}

TEST_F(AlertTrackerTest, AnAcknowledgementFromAnotherProcessIsKept) {
  AlertTracker tracker = NewTracker();
  const int64_t id = Update(tracker, Listening(kT0, {1}), {About(0)})[0].alert.id;
  {
    store::Database cli = Open();  // the CLI's own connection
    ASSERT_TRUE(store::AcknowledgeAlert(cli, id, kT0 + kSecond).ok());
  }
  // A repeat written before the tracker looked again must not undo the acknowledgement.
  Update(tracker, Listening(kT0 + 2 * kSecond, {2}), {About(0)});
  Result<std::optional<std::vector<store::Acceptance>>> refreshed = tracker.Refresh();
  ASSERT_TRUE(refreshed.ok());
  EXPECT_TRUE(refreshed->has_value()) << "another connection wrote: the tracker must look again";
  Update(tracker, Listening(kT0 + 3 * kSecond, {2}), {About(0)});
  const std::vector<store::Alert> alerts = All();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].status, AlertStatus::kAcknowledged);
  EXPECT_EQ(alerts[0].count, 2);
}

TEST_F(AlertTrackerTest, AcceptingRecordsTheRulesAndTheTrackerLetsTheAlertGo) {
  AlertTracker tracker = NewTracker();
  const int64_t id = Update(tracker, Listening(kT0, {1}), {About(0)})[0].alert.id;
  {
    store::Database cli = Open();
    Result<store::Alert> accepted = store::AcceptAlert(cli, id, kT0 + kSecond);
    ASSERT_TRUE(accepted.ok()) << accepted.error().message;
    EXPECT_EQ(accepted->status, AlertStatus::kResolved);
  }
  Result<std::optional<std::vector<store::Acceptance>>> refreshed = tracker.Refresh();
  ASSERT_TRUE(refreshed.ok() && refreshed->has_value());
  ASSERT_EQ((*refreshed)->size(), 1u);
  EXPECT_EQ((**refreshed)[0].subject, kSubject);
  EXPECT_EQ((**refreshed)[0].rule, "backdoor_port");
  EXPECT_EQ(tracker.active_count(), 0u);
  // The engine drops accepted findings, so no finding names it: nothing happens.
  EXPECT_TRUE(Update(tracker, Listening(kT0 + 2 * kSecond, {1}), {}).empty());
  ASSERT_EQ(All().size(), 1u);
  EXPECT_TRUE(All()[0].accepted);
  // Another rule on the same subject (the engine lets it through): a new alert.
  const std::vector<AlertChange> fresh = Update(tracker, Listening(kT0 + 3 * kSecond, {1}),
                                                {About(0, "suspicious_exe", Severity::kHigh)});
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_EQ(fresh[0].kind, AlertEventKind::kOpened);
  EXPECT_NE(fresh[0].alert.id, id);
}

TEST_F(AlertTrackerTest, DetectsWhileWritesFailAndStoresEachChangeOnceInOrderWhenTheyResume) {
  AlertTracker tracker = NewTracker();
  notify::TargetConfig chat;
  chat.name = "chat";
  tracker.set_outbox(
      std::make_shared<const notify::Outbox>(std::vector<notify::TargetConfig>{chat}));
  store::Database other = Open();
  ASSERT_TRUE(other.Execute("BEGIN EXCLUSIVE").ok());  // another writer holds the lock
  db_.SetBusyTimeout(std::chrono::milliseconds(0));

  // The alert opens, repeats, resolves and reopens while nothing can be written: every change
  // is still returned (for the log, the events file and the API), none is stored.
  AlertUpdate opened = tracker.Update(Listening(kT0, {1}), {About(0)}, kT0);
  EXPECT_TRUE(opened.store_error);
  ASSERT_EQ(opened.changes.size(), 1u);
  EXPECT_EQ(opened.changes[0].kind, AlertEventKind::kOpened);
  EXPECT_FALSE(opened.changes[0].stored);
  EXPECT_EQ(tracker.active_count(), 1u);
  tracker.Update(Listening(kT0 + kSecond, {2}), {About(0)}, kT0 + kSecond);  // a repeat
  AlertUpdate resolved = tracker.Update(Listening(kT0 + 2 * kSecond, {}), {}, kT0 + 2 * kSecond);
  ASSERT_EQ(resolved.changes.size(), 1u);
  EXPECT_EQ(resolved.changes[0].kind, AlertEventKind::kResolved);
  AlertUpdate reopened =
      tracker.Update(Listening(kT0 + 3 * kSecond, {3}), {About(0)}, kT0 + 3 * kSecond);
  ASSERT_EQ(reopened.changes.size(), 1u);
  EXPECT_EQ(reopened.changes[0].kind, AlertEventKind::kReopened);
  EXPECT_EQ(tracker.queued_events(), 3u);
  ASSERT_TRUE(other.Execute("COMMIT").ok());

  // Writes work again: the next interval stores the three events, in order, each once, with
  // their outbox rows, and the alert with its count.
  const AlertUpdate caught_up =
      tracker.Update(Listening(kT0 + 4 * kSecond, {3}), {About(0)}, kT0 + 4 * kSecond);
  EXPECT_FALSE(caught_up.store_error);
  EXPECT_EQ(caught_up.stored_late, 3u);
  EXPECT_EQ(tracker.queued_events(), 0u);
  const std::vector<store::Alert> alerts = All();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].status, AlertStatus::kOpen);
  EXPECT_EQ(alerts[0].count, 3);
  Result<std::vector<store::AlertEvent>> events = store::AlertEvents(db_, alerts[0].id);
  ASSERT_TRUE(events.ok());
  std::vector<std::pair<AlertEventKind, int64_t>> kinds;
  for (const store::AlertEvent& event : *events) kinds.emplace_back(event.kind, event.at);
  EXPECT_THAT(kinds,
              ::testing::ElementsAre(std::pair(AlertEventKind::kOpened, kT0),
                                     std::pair(AlertEventKind::kResolved, kT0 + 2 * kSecond),
                                     std::pair(AlertEventKind::kReopened, kT0 + 3 * kSecond)));
  EXPECT_EQ(store::ListDeliveries(db_, {})->size(), 3u);

  // Nothing is written twice.
  Update(tracker, Listening(kT0 + 5 * kSecond, {3}), {About(0)});
  EXPECT_EQ(store::AlertEvents(db_, alerts[0].id)->size(), 3u);
  EXPECT_EQ(store::ListDeliveries(db_, {})->size(), 3u);
}

TEST_F(AlertTrackerTest, AFullQueueKeepsOpeningsAndTheLatestStateAndCountsWhatItDrops) {
  AlertTracker tracker = NewTracker();
  store::Database other = Open();
  ASSERT_TRUE(other.Execute("BEGIN EXCLUSIVE").ok());
  db_.SetBusyTimeout(std::chrono::milliseconds(0));
  // Flapping with resolve_after 0: an event every interval, more than the queue holds.
  const size_t intervals = AlertTracker::kMaxQueuedEvents + 10;
  for (size_t i = 0; i < intervals; ++i) {
    const int64_t at = kT0 + static_cast<int64_t>(i) * kSecond;
    if (i % 2 == 0) {
      tracker.Update(Listening(at, {1}), {About(0)}, at);
    } else {
      tracker.Update(Listening(at, {}), {}, at);
    }
  }
  EXPECT_EQ(tracker.queued_events(), AlertTracker::kMaxQueuedEvents);
  EXPECT_EQ(tracker.dropped_events(), 10);
  ASSERT_TRUE(other.Execute("COMMIT").ok());
  const int64_t last = kT0 + static_cast<int64_t>(intervals) * kSecond;
  Update(tracker, Listening(last, {}), {});
  const std::vector<store::Alert> alerts = All();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].status, AlertStatus::kResolved);
  EXPECT_EQ(alerts[0].count, static_cast<int64_t>(intervals / 2));
  EXPECT_EQ(store::AlertEvents(db_, alerts[0].id)->size(), AlertTracker::kMaxQueuedEvents);
}

TEST_F(AlertTrackerTest, AConditionThatFlapsWithinResolveAfterStaysOneOpenAlertWithItsCountRising) {
  AlertTracker tracker = NewTracker(std::chrono::seconds(3));
  notify::TargetConfig chat;
  chat.name = "chat";
  tracker.set_outbox(
      std::make_shared<const notify::Outbox>(std::vector<notify::TargetConfig>{chat}));
  std::vector<AlertChange> changes;
  // Present one interval, gone the next, for 30 intervals; the same socket comes back each time.
  for (int i = 0; i < 30; ++i) {
    const bool present = i % 2 == 0;
    const collectors::Snapshot snapshot =
        Listening(kT0 + i * kSecond, present ? std::vector<uint64_t>{1} : std::vector<uint64_t>{});
    for (AlertChange& change :
         Update(tracker, snapshot,
                present ? std::vector<Finding>{About(0)} : std::vector<Finding>{})) {
      changes.push_back(change);
    }
  }
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].kind, AlertEventKind::kOpened);
  std::vector<store::Alert> alerts = All();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].status, AlertStatus::kOpen);
  EXPECT_EQ(alerts[0].count, 15);
  EXPECT_EQ(store::ListDeliveries(db_, {})->size(), 1u);

  // Gone for good: resolved once resolve_after has passed since it was last seen, not before.
  const int64_t last_seen = kT0 + 28 * kSecond;
  EXPECT_TRUE(Update(tracker, Listening(last_seen + 2 * kSecond, {}), {}).empty());
  const std::vector<AlertChange> resolved =
      Update(tracker, Listening(last_seen + 3 * kSecond, {}), {});
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0].kind, AlertEventKind::kResolved);
}

TEST_F(AlertTrackerTest, QueuesEachEventForTheTargetsThatTakeItInTheSameTransaction) {
  AlertTracker tracker = NewTracker();
  notify::TargetConfig chat;
  chat.name = "chat";
  notify::TargetConfig quiet = chat;
  quiet.name = "quiet";
  quiet.send_resolved = false;
  tracker.set_outbox(
      std::make_shared<const notify::Outbox>(std::vector<notify::TargetConfig>{chat, quiet}));

  const std::vector<AlertChange> opened = Update(tracker, Listening(kT0, {1}), {About(0)});
  ASSERT_EQ(opened.size(), 1u);
  EXPECT_EQ(opened[0].deliveries, 2);
  const std::vector<AlertChange> resolved = Update(tracker, Listening(kT0 + kSecond, {}), {});
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0].deliveries, 1);

  Result<std::vector<store::Delivery>> rows = store::DueDeliveries(db_, kT0 + kSecond, 10);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0].event_id, opened[0].event_id);
  EXPECT_EQ((*rows)[1].event_id, opened[0].event_id);
  EXPECT_EQ((*rows)[2].event_id, resolved[0].event_id);
  EXPECT_EQ((*rows)[2].target, "chat");

  // Queueing that fails takes the alert's whole write with it: no event is stored unqueued, and
  // the change waits for the next interval.
  ASSERT_TRUE(db_.Execute("CREATE TRIGGER refuse BEFORE INSERT ON deliveries "
                          "BEGIN SELECT RAISE(ABORT, 'outbox refused'); END")
                  .ok());
  const collectors::Snapshot other = Listening(kT0 + 2 * kSecond, {2});
  Finding elsewhere = About(0);
  elsewhere.subject = "listener tcp/4444 exposure=all program=/tmp/nc user=alice";
  AlertUpdate refused = tracker.Update(other, {elsewhere}, kT0 + 2 * kSecond);
  ASSERT_TRUE(refused.store_error);
  EXPECT_THAT(refused.store_error->message, HasSubstr("outbox refused"));
  ASSERT_EQ(refused.changes.size(), 1u);
  EXPECT_FALSE(refused.changes[0].stored);
  EXPECT_EQ(All().size(), 1u);
  Result<std::vector<store::AlertEvent>> events = store::AlertEvents(db_, opened[0].alert.id);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->size(), 2u);  // opened, resolved: nothing of the refused write
  EXPECT_EQ(store::ListDeliveries(db_, {})->size(), 3u);
  ASSERT_TRUE(db_.Execute("DROP TRIGGER refuse").ok());
  EXPECT_EQ(tracker.Update(other, {elsewhere}, kT0 + 3 * kSecond).stored_late, 1u);
  EXPECT_EQ(All().size(), 2u);
  EXPECT_EQ(store::ListDeliveries(db_, {})->size(), 5u);
}

TEST(Fingerprint, IsStableAndTellsSubjectsApart) {
  EXPECT_EQ(Fingerprint("a"), "af63dc4c8601ec8c");  // FNV-1a 64 of "a", as published
  EXPECT_NE(Fingerprint(kSubject), Fingerprint("listener tcp/31338"));
  EXPECT_EQ(Fingerprint(kSubject).size(), 16u);
}

}  // namespace
}  // namespace portwatch::agent
