// OutboxWorker against a real HTTP receiver on loopback, with the outbox in SQLite on a temporary
// file: delivery once and in order, outages, Retry-After, refusals, backoff, max age, rate
// limits, stopping mid-send, and Alertmanager's re-sends.

#include "agent/notify/outbox_worker.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/alerts.h"
#include "store/database.h"
#include "store/deliveries.h"
#include "store/history_writer.h"
#include "tests/support/receiver.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait_for.h"

namespace portwatch::agent::notify {
namespace {

using portwatch::testing::ReceivedRequest;
using portwatch::testing::Receiver;
using portwatch::testing::Reply;
using portwatch::testing::TempDir;
using portwatch::testing::WaitFor;
using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;

int64_t Now() { return store::ToMillis(std::chrono::system_clock::now()); }

store::Alert OpenAlert(const std::string& subject, int severity = 4) {
  store::Alert alert;
  alert.fingerprint = "fp-" + subject;
  alert.subject = subject;
  alert.kind = 1;
  alert.severity = severity;
  alert.title = "nc (pid 42, user root) listens on 0.0.0.0:31337/tcp";
  alert.reasons =
      R"([{"rule":"backdoor_port","severity":"high","mitre":"T1571","reason":"port 31337"}])";
  alert.first_seen = alert.last_seen = Now();
  alert.first_evidence = alert.last_evidence =
      R"({"proto":"tcp","local_addr":"0.0.0.0","local_port":31337,"pid":42,"process":"nc"})";
  return alert;
}

int64_t EventIdOf(const ReceivedRequest& request) {
  const nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
  if (!body.is_object() || !body.contains("event")) return -1;
  return body["event"].value("id", int64_t{-1});
}

class OutboxWorkerTest : public ::testing::Test {
 protected:
  OutboxWorkerTest() : path_(dir_.path() + "/history.db"), db_(Open()) {
    Result<int64_t> id = store::InsertAlert(db_, OpenAlert("listener tcp/31337"));
    EXPECT_TRUE(id.ok());
    alert_id_ = id.ok() ? *id : 0;
  }

  store::Database Open() {
    Result<store::Database> db = store::Database::Open(path_);
    EXPECT_TRUE(db.ok()) << db.error().message;
    return std::move(db).value();
  }

  // Records an event of the alert and queues it for `target`; returns the event id.
  int64_t Queue(const std::string& target = "hook",
                store::AlertEventKind kind = store::AlertEventKind::kOpened) {
    Result<int64_t> event = store::InsertAlertEvent(db_, {0, alert_id_, Now(), kind, ""});
    EXPECT_TRUE(event.ok());
    EXPECT_TRUE(store::EnqueueDelivery(db_, *event, target, Now()).ok());
    return *event;
  }

  static TargetConfig Webhook(const Receiver& receiver, const std::string& name = "hook") {
    TargetConfig config;
    config.name = name;
    config.type = "webhook";
    config.url = receiver.Url("/hook");
    config.timeout = seconds(2);
    return config;
  }

  WorkerSettings Settings(std::vector<TargetConfig> configs) {
    WorkerSettings settings;
    for (TargetConfig& config : configs) {
      Result<std::unique_ptr<Target>> target = MakeTarget(std::move(config));
      EXPECT_TRUE(target.ok()) << target.error().message;
      if (target) settings.targets.push_back(std::move(target).value());
    }
    settings.context.host = "web-1";
    settings.retry_initial = milliseconds(100);
    settings.retry_max = milliseconds(800);
    return settings;
  }

  std::unique_ptr<OutboxWorker> Start(WorkerSettings settings) {
    Result<std::unique_ptr<OutboxWorker>> worker = OutboxWorker::Start(path_, std::move(settings));
    EXPECT_TRUE(worker.ok()) << worker.error().message;
    return worker.ok() ? std::move(worker).value() : nullptr;
  }

  std::vector<store::Delivery> Rows() {
    store::DeliveryFilter filter;
    Result<std::vector<store::Delivery>> rows = store::ListDeliveries(db_, filter);
    EXPECT_TRUE(rows.ok());
    std::vector<store::Delivery> oldest_first(rows->rbegin(), rows->rend());
    return oldest_first;
  }

  bool AllRows(store::DeliveryStatus status) {
    const std::vector<store::Delivery> rows = Rows();
    return !rows.empty() && std::all_of(rows.begin(), rows.end(),
                                        [&](const auto& row) { return row.status == status; });
  }

  TempDir dir_;
  std::string path_;
  store::Database db_;
  int64_t alert_id_ = 0;
};

TEST_F(OutboxWorkerTest, DeliversEachEventOnceInOrder) {
  Receiver receiver;
  const std::vector<int64_t> events = {Queue(), Queue(),
                                       Queue("hook", store::AlertEventKind::kResolved)};
  auto worker = Start(Settings({Webhook(receiver)}));
  ASSERT_TRUE(receiver.WaitForCount(3, seconds(5)));
  ASSERT_TRUE(WaitFor([&] { return AllRows(store::DeliveryStatus::kDelivered); }, seconds(5)));
  std::this_thread::sleep_for(milliseconds(1200));  // a poll or two later: nothing more

  const std::vector<ReceivedRequest> requests = receiver.Requests();
  ASSERT_EQ(requests.size(), 3u);
  std::vector<int64_t> received;
  std::set<std::string> keys;
  for (const ReceivedRequest& request : requests) {
    EXPECT_EQ(request.path, "/hook");
    received.push_back(EventIdOf(request));
    keys.insert(request.Header("idempotency-key"));
  }
  EXPECT_EQ(received, events);
  EXPECT_EQ(keys.size(), 3u);
  for (const store::Delivery& row : Rows()) {
    EXPECT_EQ(row.attempts, 1);
    EXPECT_EQ(row.response_code, 200);
  }
}

TEST_F(OutboxWorkerTest, WaitsOutAnOutageWithOneRequestPerStepThenDeliversAllOnce) {
  Receiver receiver(/*start=*/false);
  const std::vector<int64_t> events = {Queue(), Queue(), Queue()};
  auto worker = Start(Settings({Webhook(receiver)}));
  // Down: the first delivery is retried with backoff; the others wait behind it untried.
  ASSERT_TRUE(WaitFor([&] { return Rows()[0].attempts >= 3; }, seconds(5)));
  std::vector<store::Delivery> rows = Rows();
  EXPECT_EQ(rows[0].status, store::DeliveryStatus::kPending);
  EXPECT_FALSE(rows[0].response_code.has_value());
  EXPECT_THAT(rows[0].last_error, HasSubstr("127.0.0.1"));
  EXPECT_EQ(rows[1].attempts, 0);
  EXPECT_EQ(rows[2].attempts, 0);

  receiver.Start();
  ASSERT_TRUE(WaitFor([&] { return AllRows(store::DeliveryStatus::kDelivered); }, seconds(5)));
  std::this_thread::sleep_for(milliseconds(1200));
  std::vector<int64_t> received;
  for (const ReceivedRequest& request : receiver.Requests()) received.push_back(EventIdOf(request));
  EXPECT_EQ(received, events);
}

class RetryAfterTest : public OutboxWorkerTest, public ::testing::WithParamInterface<int> {};

TEST_P(RetryAfterTest, WaitsAsLongAsTheReceiverAsks) {
  Receiver receiver;
  const int status = GetParam();
  receiver.SetReplies([status](const ReceivedRequest&, size_t n) {
    return n == 0 ? Reply{status, "slow down", {{"Retry-After", "2"}}, milliseconds(0)} : Reply{};
  });
  Queue();
  auto worker = Start(Settings({Webhook(receiver)}));
  ASSERT_TRUE(receiver.WaitForCount(2, seconds(6)));
  const std::vector<ReceivedRequest> requests = receiver.Requests();
  const auto gap = std::chrono::duration_cast<milliseconds>(requests[1].at - requests[0].at);
  // The worker's own backoff would have tried again after 50-100 ms.
  EXPECT_GE(gap.count(), 1900);
  EXPECT_LE(gap.count(), 3500);
  ASSERT_TRUE(WaitFor([&] { return AllRows(store::DeliveryStatus::kDelivered); }, seconds(3)));
  EXPECT_EQ(Rows()[0].attempts, 2);
}

INSTANTIATE_TEST_SUITE_P(TooManyRequestsAndUnavailable, RetryAfterTest,
                         ::testing::Values(429, 503));

TEST_F(OutboxWorkerTest, ARefusalFailsAtOnceWithTheReceiversReasonAndIsNotRetried) {
  Receiver receiver;
  receiver.SetReplies([](const ReceivedRequest&, size_t) {
    return Reply{400, "invalid_token", {}, milliseconds(0)};
  });
  Queue();
  Queue();
  auto worker = Start(Settings({Webhook(receiver)}));
  ASSERT_TRUE(WaitFor([&] { return AllRows(store::DeliveryStatus::kFailed); }, seconds(5)));
  std::this_thread::sleep_for(milliseconds(1500));
  EXPECT_EQ(receiver.Count(), 2u);  // one request per delivery, no retry storm
  for (const store::Delivery& row : Rows()) {
    EXPECT_EQ(row.attempts, 1);
    EXPECT_EQ(row.response_code, 400);
    EXPECT_EQ(row.last_error, "HTTP 400: invalid_token");
  }
}

TEST_F(OutboxWorkerTest, ServerErrorsAreRetriedFurtherAndFurtherApart) {
  Receiver receiver;
  receiver.SetReplies([](const ReceivedRequest&, size_t) {
    return Reply{500, "oops", {}, milliseconds(0)};
  });
  Queue();
  auto worker = Start(Settings({Webhook(receiver)}));
  std::this_thread::sleep_for(seconds(3));
  const std::vector<ReceivedRequest> requests = receiver.Requests();
  // 100 ms apart at a fixed pace would be 30 requests; doubling to 800 ms allows about 8.
  ASSERT_GE(requests.size(), 4u);
  EXPECT_LE(requests.size(), 10u);
  const auto gap = [&](size_t i) {
    return std::chrono::duration_cast<milliseconds>(requests[i + 1].at - requests[i].at).count();
  };
  EXPECT_GT(gap(2), gap(0));
  EXPECT_EQ(Rows()[0].status, store::DeliveryStatus::kPending);
  EXPECT_EQ(Rows()[0].response_code, 500);
}

TEST_F(OutboxWorkerTest, ADeliveryPendingPastMaxAgeIsMarkedFailedNotDropped) {
  Receiver receiver(/*start=*/false);
  Queue();
  WorkerSettings settings = Settings({Webhook(receiver)});
  settings.max_age = seconds(1);
  auto worker = Start(std::move(settings));
  ASSERT_TRUE(WaitFor([&] { return AllRows(store::DeliveryStatus::kFailed); }, seconds(5)));
  const store::Delivery row = Rows()[0];
  EXPECT_THAT(row.last_error, HasSubstr("not delivered within 1s"));
  EXPECT_THAT(row.last_error, HasSubstr("127.0.0.1"));  // and why, from the last attempt
  EXPECT_GE(row.attempts, 1);
}

TEST_F(OutboxWorkerTest, ARateLimitSpreadsMessagesOutWithoutDroppingAny) {
  Receiver receiver;
  for (int i = 0; i < 5; ++i) Queue();
  TargetConfig config = Webhook(receiver);
  config.rate_limit = 2;
  config.rate_period = seconds(1);
  auto worker = Start(Settings({config}));
  ASSERT_TRUE(receiver.WaitForCount(5, seconds(8)));
  const std::vector<ReceivedRequest> requests = receiver.Requests();
  ASSERT_EQ(requests.size(), 5u);
  // Two per second: the fifth goes at least two seconds after the first.
  EXPECT_GE(std::chrono::duration_cast<milliseconds>(requests[4].at - requests[0].at).count(),
            1900);
  for (size_t i = 2; i < 5; ++i) {
    EXPECT_GE(std::chrono::duration_cast<milliseconds>(requests[i].at - requests[i - 2].at).count(),
              950)
        << "request " << i;
  }
  ASSERT_TRUE(WaitFor([&] { return AllRows(store::DeliveryStatus::kDelivered); }, seconds(3)));
}

TEST_F(OutboxWorkerTest, StopCutsASlowSendShortWithoutCountingIt) {
  Receiver receiver;
  receiver.SetReplies([](const ReceivedRequest&, size_t) {
    return Reply{200, "ok", {}, milliseconds(4000)};
  });
  Queue();
  TargetConfig config = Webhook(receiver);
  config.timeout = seconds(10);
  auto worker = Start(Settings({config}));
  ASSERT_TRUE(receiver.WaitForCount(1, seconds(5)));
  const auto started = std::chrono::steady_clock::now();
  worker->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, milliseconds(1000));
  const store::Delivery row = Rows()[0];
  EXPECT_EQ(row.status, store::DeliveryStatus::kPending);
  EXPECT_EQ(row.attempts, 0);
}

TEST_F(OutboxWorkerTest, RowsForATargetNoLongerConfiguredWaitForItToComeBack) {
  Receiver receiver;
  Queue("old-name");
  WorkerSettings settings = Settings({Webhook(receiver)});
  settings.retry_max = milliseconds(300);
  auto worker = Start(settings);
  ASSERT_TRUE(WaitFor([&] { return !Rows()[0].last_error.empty(); }, seconds(3)));
  EXPECT_THAT(Rows()[0].last_error, HasSubstr("no target named 'old-name'"));
  EXPECT_EQ(Rows()[0].status, store::DeliveryStatus::kPending);
  EXPECT_EQ(receiver.Count(), 0u);

  WorkerSettings renamed = Settings({Webhook(receiver, "old-name")});
  renamed.retry_max = milliseconds(300);
  worker->Configure(std::move(renamed));
  ASSERT_TRUE(receiver.WaitForCount(1, seconds(3)));
  ASSERT_TRUE(WaitFor([&] { return AllRows(store::DeliveryStatus::kDelivered); }, seconds(3)));
}

TEST_F(OutboxWorkerTest, AnAlertSilencedWhileItsMessagesWaitedIsNotAnnounced) {
  Receiver receiver(/*start=*/false);
  Queue();
  auto worker = Start(Settings({Webhook(receiver)}));
  ASSERT_TRUE(WaitFor([&] { return Rows()[0].attempts >= 1; }, seconds(5)));
  ASSERT_TRUE(store::SilenceAlert(db_, alert_id_, Now() + 3'600'000, Now()).ok());
  receiver.Start();
  ASSERT_TRUE(WaitFor([&] { return AllRows(store::DeliveryStatus::kSkipped); }, seconds(5)));
  EXPECT_EQ(receiver.Count(), 0u);
  EXPECT_THAT(Rows()[0].last_error, HasSubstr("silenced while this waited"));
}

TEST_F(OutboxWorkerTest, OneMessageTheReceiverChokesOnDoesNotHoldUpTheOthers) {
  Receiver receiver;
  const int64_t poison = Queue();
  receiver.SetReplies([poison](const ReceivedRequest& request, size_t) {
    return EventIdOf(request) == poison ? Reply{500, "template error", {}, milliseconds(0)}
                                        : Reply{};
  });
  const int64_t second = Queue();
  const int64_t third = Queue();
  auto worker = Start(Settings({Webhook(receiver)}));
  ASSERT_TRUE(WaitFor(
      [&] {
        const std::vector<store::Delivery> rows = Rows();
        return rows[1].status == store::DeliveryStatus::kDelivered &&
               rows[2].status == store::DeliveryStatus::kDelivered;
      },
      seconds(5)));
  const store::Delivery stuck = Rows()[0];
  EXPECT_EQ(stuck.status, store::DeliveryStatus::kPending);
  EXPECT_EQ(stuck.response_code, 500);
  std::vector<int64_t> delivered;
  for (const ReceivedRequest& request : receiver.Requests()) {
    if (EventIdOf(request) != poison) delivered.push_back(EventIdOf(request));
  }
  EXPECT_EQ(delivered, (std::vector<int64_t>{second, third}));
}

TEST_F(OutboxWorkerTest, ANewWorkerSendsWhatAnEarlierOneLeftBackingOffBeforeAnythingNewer) {
  Receiver receiver;
  const int64_t old_event = Queue();
  // An earlier run backed the row off far into the future, then the agent restarted.
  const int64_t old_row = Rows()[0].id;
  ASSERT_TRUE(store::RecordRetry(db_, old_row, Now(), Now() + 3'600'000, 503, "HTTP 503").ok());
  const int64_t new_event = Queue("hook", store::AlertEventKind::kResolved);
  auto worker = Start(Settings({Webhook(receiver)}));
  ASSERT_TRUE(receiver.WaitForCount(2, seconds(5)));
  const std::vector<ReceivedRequest> requests = receiver.Requests();
  EXPECT_EQ(EventIdOf(requests[0]), old_event);
  EXPECT_EQ(EventIdOf(requests[1]), new_event);
}

TEST_F(OutboxWorkerTest, IdlesWhenATargetIsDownOrHasBeenRemoved) {
  Receiver receiver(/*start=*/false);
  TargetConfig am;
  am.name = "am";
  am.type = "alertmanager";
  am.url = receiver.Url();
  am.resend_every = seconds(1);
  Queue("am");
  WorkerSettings settings = Settings({am});
  settings.retry_initial = seconds(2);
  settings.retry_max = seconds(2);
  auto worker = Start(std::move(settings));
  ASSERT_TRUE(WaitFor([&] { return Rows()[0].attempts >= 1; }, seconds(5)));
  // Backing off for about two seconds: a pass a second or so, not one every few milliseconds.
  uint64_t before = worker->passes();
  std::this_thread::sleep_for(milliseconds(1500));
  EXPECT_LE(worker->passes() - before, 5u);
  // Removed by a reload: nothing left to wake up for but the poll.
  worker->Configure(Settings({}));
  std::this_thread::sleep_for(milliseconds(300));
  before = worker->passes();
  std::this_thread::sleep_for(milliseconds(2000));
  EXPECT_LE(worker->passes() - before, 4u);
}

TEST_F(OutboxWorkerTest, AlertmanagerGetsEveryActiveAlertAgainAndAgain) {
  Receiver receiver;
  store::Alert resolved = OpenAlert("listener tcp/4444");
  resolved.status = store::AlertStatus::kResolved;
  resolved.resolved_at = Now();
  ASSERT_TRUE(store::InsertAlert(db_, resolved).ok());
  store::Alert silenced = OpenAlert("listener tcp/5555");
  silenced.silenced_until = Now() + 3'600'000;
  ASSERT_TRUE(store::InsertAlert(db_, silenced).ok());

  TargetConfig config;
  config.name = "am";
  config.type = "alertmanager";
  config.url = receiver.Url();
  config.resend_every = seconds(1);
  auto worker = Start(Settings({config}));
  ASSERT_TRUE(receiver.WaitForCount(2, seconds(5)));
  for (const ReceivedRequest& request : receiver.Requests()) {
    EXPECT_EQ(request.path, "/api/v2/alerts");
    const nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
    ASSERT_TRUE(body.is_array()) << request.body;
    ASSERT_EQ(body.size(), 1u) << "only the active, unsilenced alert: " << request.body;
    EXPECT_EQ(body[0]["labels"]["fingerprint"], "fp-listener tcp/31337");
    EXPECT_FALSE(body[0].contains("endsAt") && !body[0]["endsAt"].is_null() &&
                 body[0]["endsAt"] != "0001-01-01T00:00:00Z")
        << "an active alert has no end: " << request.body;
  }
}

}  // namespace
}  // namespace portwatch::agent::notify
