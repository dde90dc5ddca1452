// notify_bench: what the notification outbox costs and how fast it delivers — the queueing cost
// inside the alert's transaction, the latency from an alert event to the receiver, the rate of a
// burst, and how an outage is ridden out (requests made while down, time to drain after).
//
// Receivers are real HTTP servers on 127.0.0.1 (tests/support/receiver.h); the outbox is SQLite
// in a temporary directory; the worker is the agent's own OutboxWorker with a generic webhook
// target. Usage: notify_bench [--out FILE] [--dir DIR]

#include <fmt/format.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "agent/notify/outbox.h"
#include "agent/notify/outbox_worker.h"
#include "agent/notify/target.h"
#include "store/alerts.h"
#include "store/database.h"
#include "store/deliveries.h"
#include "store/history_writer.h"
#include "tests/bench/bench_support.h"
#include "tests/support/receiver.h"

namespace portwatch::bench {
namespace {

using agent::notify::OutboxWorker;
using agent::notify::TargetConfig;
using agent::notify::WorkerSettings;
using std::chrono::milliseconds;

constexpr int kQueueEvents = 1000;
constexpr int kQueueRuns = 5;
constexpr int kLatencyEvents = 50;
constexpr int kBurst = 2000;
constexpr int kOutageQueued = 200;
constexpr auto kOutage = std::chrono::seconds(10);

// Targets (set in the issue's spirit: notification is never the slow part of an interval).
constexpr double kQueueTargetUs = 100;    // per event, three targets, inside the transaction
constexpr double kLatencyTargetMs = 100;  // p99, event committed -> receiver has it
constexpr double kBurstTargetPerS = 200;  // deliveries per second to one receiver
constexpr double kRecoveryTargetS = 15;   // 200 queued, drained after the receiver is back

int64_t Now() { return store::ToMillis(std::chrono::system_clock::now()); }

store::Alert SampleAlert(int i) {
  store::Alert alert;
  alert.fingerprint = fmt::format("{:016x}", i);
  alert.subject = fmt::format("listener tcp/{} exposure=all program=/tmp/nc user=root", 30000 + i);
  alert.kind = 1;
  alert.severity = 4;
  alert.title = fmt::format("nc (pid 4242, user root) listens on 0.0.0.0:{}/tcp", 30000 + i);
  alert.reasons =
      R"([{"rule":"backdoor_port","severity":"high","mitre":"T1571","reason":"a backdoor port"}])";
  alert.first_seen = alert.last_seen = Now();
  alert.first_evidence = alert.last_evidence =
      R"({"proto":"tcp","local_addr":"0.0.0.0","local_port":31337,"pid":4242,"process":"nc",)"
      R"("exe":"/tmp/nc","user":"root","service_port":31337,"port_category":"registered",)"
      R"("exposure":"all","direction":"listen"})";
  return alert;
}

TargetConfig Webhook(const std::string& name, const std::string& url) {
  TargetConfig config;
  config.name = name;
  config.type = "webhook";
  config.url = url;
  config.timeout = std::chrono::seconds(5);
  return config;
}

std::unique_ptr<OutboxWorker> StartWorker(const std::string& db, const std::string& url,
                                          milliseconds retry_max) {
  WorkerSettings settings;
  settings.targets.push_back(
      Check(agent::notify::MakeTarget(Webhook("hook", url)), "making the target"));
  settings.context.host = "bench-host";
  settings.retry_initial = milliseconds(250);
  settings.retry_max = retry_max;
  return Check(OutboxWorker::Start(db, std::move(settings)), "starting the worker");
}

// Records an event of `alert_id` and queues it for "hook", in one transaction, as the tracker does.
int64_t Queue(store::Database& db, int64_t alert_id, const agent::notify::Outbox& outbox,
              const store::Alert& alert) {
  store::Transaction transaction = Check(store::Transaction::Begin(db), "begin");
  const int64_t event =
      Check(store::InsertAlertEvent(db, {0, alert_id, Now(), store::AlertEventKind::kOpened, ""}),
            "event");
  Check(outbox.Enqueue(db, event, alert, store::AlertEventKind::kOpened, Now()), "enqueue");
  Check(transaction.Commit(), "commit");
  return event;
}

struct Results {
  double queue_plain_us = 0, queue_outbox_us = 0;
  TimingSummary latency;
  double burst_s = 0;
  double recovery_s = 0;
  size_t outage_requests = 0;
};

}  // namespace
}  // namespace portwatch::bench

int main(int argc, char** argv) {
  using namespace portwatch;
  using namespace portwatch::bench;
  SetProgramName("notify_bench");
  std::string out_path, dir_flag;
  ParseFlags(argc, argv, "usage: notify_bench [--out FILE] [--dir DIR]",
             {{"--out", &out_path}, {"--dir", &dir_flag}});
  LogLibrariesToStderr();
  const WorkDirectory work = MakeWorkDirectory(dir_flag);
  RunConditions conditions =
      RunConditions::Begin(PORTWATCH_SOURCE_DIR, "agent store",
                           {"snapshot_bench", "store_bench", "agent_bench", "conn_farm"});
  Results results;

  // 1. Queueing inside the alert's transaction: an event alone, and an event with three targets.
  {
    const std::string path = work.path + "/queue.db";
    store::Database db = Check(store::Database::Open(path), "opening " + path);
    const store::Alert alert = SampleAlert(0);
    const int64_t alert_id = Check(store::InsertAlert(db, alert), "alert");
    const agent::notify::Outbox none({});
    const agent::notify::Outbox three({Webhook("a", "http://127.0.0.1:9/"),
                                       Webhook("b", "http://127.0.0.1:9/"),
                                       Webhook("c", "http://127.0.0.1:9/")});
    std::vector<double> plain, with_outbox;
    for (int run = 0; run < kQueueRuns; ++run) {
      for (const auto& [outbox, series] :
           {std::pair{&none, &plain}, std::pair{&three, &with_outbox}}) {
        store::Transaction transaction = Check(store::Transaction::Begin(db), "begin");
        const auto started = Clock::now();
        for (int i = 0; i < kQueueEvents; ++i) {
          const int64_t event = Check(
              store::InsertAlertEvent(db, {0, alert_id, Now(), store::AlertEventKind::kOpened, ""}),
              "event");
          Check(outbox->Enqueue(db, event, alert, store::AlertEventKind::kOpened, Now()),
                "enqueue");
        }
        Check(transaction.Commit(), "commit");
        series->push_back(Millis(Clock::now() - started) * 1000 / kQueueEvents);
      }
    }
    results.queue_plain_us = Percentile(plain, 50);
    results.queue_outbox_us = Percentile(with_outbox, 50);
    Say("queueing: {:.1f} us per event alone, {:.1f} us with three targets", results.queue_plain_us,
        results.queue_outbox_us);
  }

  // 2. Latency: one event at a time, the worker woken as the agent's loop wakes it.
  {
    const std::string path = work.path + "/latency.db";
    store::Database db = Check(store::Database::Open(path), "opening " + path);
    testing::Receiver receiver;
    const agent::notify::Outbox outbox({Webhook("hook", receiver.Url("/hook"))});
    auto worker = StartWorker(path, receiver.Url("/hook"), milliseconds(2000));
    const store::Alert alert = SampleAlert(1);
    const int64_t alert_id = Check(store::InsertAlert(db, alert), "alert");
    std::vector<double> latencies;
    for (int i = 0; i < kLatencyEvents; ++i) {
      std::this_thread::sleep_for(milliseconds(50 + (i * 37) % 100));
      const auto started = Clock::now();
      Queue(db, alert_id, outbox, alert);
      worker->Wake();
      if (!receiver.WaitForCount(static_cast<size_t>(i) + 1, std::chrono::seconds(5))) {
        Die(fmt::format("event {} did not arrive within 5 s", i));
      }
      latencies.push_back(Millis(receiver.Requests().back().at - started));
    }
    results.latency = Summarize(latencies);
    Say("latency: p50 {:.1f} ms, p99 {:.1f} ms", results.latency.median, results.latency.p99);
  }

  // 3. A burst: kBurst events queued at once, drained to one receiver.
  {
    const std::string path = work.path + "/burst.db";
    store::Database db = Check(store::Database::Open(path), "opening " + path);
    testing::Receiver receiver;
    const agent::notify::Outbox outbox({Webhook("hook", receiver.Url("/hook"))});
    const store::Alert alert = SampleAlert(2);
    const int64_t alert_id = Check(store::InsertAlert(db, alert), "alert");
    for (int i = 0; i < kBurst; ++i) Queue(db, alert_id, outbox, alert);
    const auto started = Clock::now();
    auto worker = StartWorker(path, receiver.Url("/hook"), milliseconds(2000));
    if (!receiver.WaitForCount(kBurst, std::chrono::minutes(2))) Die("the burst did not drain");
    results.burst_s = Millis(Clock::now() - started) / 1000;
    Say("burst: {} deliveries in {:.2f} s", kBurst, results.burst_s);
  }

  // 4. An outage: the receiver down for kOutage while kOutageQueued events wait, then back.
  {
    const std::string path = work.path + "/outage.db";
    store::Database db = Check(store::Database::Open(path), "opening " + path);
    testing::Receiver receiver(/*start=*/false);
    const agent::notify::Outbox outbox({Webhook("hook", receiver.Url("/hook"))});
    const store::Alert alert = SampleAlert(3);
    const int64_t alert_id = Check(store::InsertAlert(db, alert), "alert");
    auto worker = StartWorker(path, receiver.Url("/hook"), milliseconds(2000));
    for (int i = 0; i < kOutageQueued; ++i) Queue(db, alert_id, outbox, alert);
    worker->Wake();
    std::this_thread::sleep_for(kOutage);
    const std::vector<store::Delivery> rows =
        Check(store::ListDeliveries(db, {std::nullopt, "", std::nullopt, kOutageQueued}), "list");
    for (const store::Delivery& row : rows) results.outage_requests += row.attempts;
    receiver.Start();
    const auto back = Clock::now();
    if (!receiver.WaitForCount(kOutageQueued, std::chrono::minutes(1)))
      Die("the outbox did not drain");
    results.recovery_s = Millis(Clock::now() - back) / 1000;
    Say("outage: {} requests while down, drained in {:.2f} s", results.outage_requests,
        results.recovery_s);
  }
  conditions.End();

  std::string report;
  auto out = std::back_inserter(report);
  fmt::format_to(out, "# portwatch notification outbox benchmark\n\n");
  fmt::format_to(out,
                 "- Reproduce (from the repository root): `cmake -S . -B build-bench "
                 "-DCMAKE_BUILD_TYPE=Release -DPORTWATCH_BUILD_BENCH=ON && cmake --build "
                 "build-bench --target notify_bench && build-bench/tests/bench/notify_bench "
                 "--out tests/bench/NOTIFY_RESULTS.md`\n");
  fmt::format_to(out, "- Commit {}{}; build type {}, SQLite {}\n", conditions.commit(),
                 conditions.uncommitted().empty()
                     ? ""
                     : " (uncommitted in agent/, store/: " + conditions.uncommitted() + ")",
                 PORTWATCH_BUILD_TYPE, sqlite3_libversion());
  fmt::format_to(out, "- Host: {}\n- {}\n\n", HostText(), conditions.LoadText());
  fmt::format_to(out, "| measurement | result | target | verdict |\n|---|---|---|---|\n");
  fmt::format_to(out,
                 "| Queueing an alert event for 3 targets inside its transaction ({} events × {} "
                 "runs, median per event) | {:.1f} µs (the event alone: {:.1f} µs) | ≤ {:.0f} µs "
                 "| {} |\n",
                 kQueueEvents, kQueueRuns, results.queue_outbox_us, results.queue_plain_us,
                 kQueueTargetUs, Verdict(results.queue_outbox_us, kQueueTargetUs));
  fmt::format_to(out,
                 "| Event committed → at the receiver, {} events one at a time | p50 {:.1f} ms, "
                 "p90 {:.1f} ms, p99 {:.1f} ms, max {:.1f} ms | p99 ≤ {:.0f} ms | {} |\n",
                 kLatencyEvents, results.latency.median, results.latency.p90, results.latency.p99,
                 results.latency.max, kLatencyTargetMs,
                 Verdict(results.latency.p99, kLatencyTargetMs));
  const double rate = kBurst / results.burst_s;
  fmt::format_to(out,
                 "| A burst of {} queued deliveries to one receiver | {:.0f} per second ({:.2f} s) "
                 "| ≥ {:.0f}/s | {} |\n",
                 kBurst, rate, results.burst_s, kBurstTargetPerS,
                 rate >= kBurstTargetPerS ? "PASS" : "**FAIL**");
  fmt::format_to(out,
                 "| Receiver down {} s with {} deliveries waiting, then back: requests while down "
                 "/ time to drain | {} requests / {:.2f} s | drained ≤ {:.0f} s | {} |\n\n",
                 std::chrono::duration_cast<std::chrono::seconds>(kOutage).count(), kOutageQueued,
                 results.outage_requests, results.recovery_s, kRecoveryTargetS,
                 Verdict(results.recovery_s, kRecoveryTargetS));
  fmt::format_to(out,
                 "Notes: the worker opens one connection per delivery (no keep-alive), sends a "
                 "target's deliveries one at a time in order, and while a target is down retries "
                 "only the oldest, backing off from 250 ms doubling to 2 s with jitter (the "
                 "default is 1 s to 5 min), so an outage costs one request per step whatever "
                 "is waiting. Percentiles are nearest rank.\n");
  PublishReport(report, out_path);
  if (work.temporary) std::filesystem::remove_all(work.path);
  return 0;
}
