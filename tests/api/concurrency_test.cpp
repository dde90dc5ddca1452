// Readers and the agent at once: request threads ask every kind of question while a writer
// publishes snapshots, records history and changes alerts, as the agent's loop does. Every answer
// must be whole and 200; run under the sanitizers this also finds data races' symptoms.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "store/alerts.h"
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

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A host with `connections` clients of one listener, the clients' ports shifted by `round` so
// every snapshot differs from the last.
collectors::Snapshot Host(int64_t at, int round, int connections) {
  SnapshotBuilder builder(at);
  builder.Add(Listener(1, "0.0.0.0", 5432), Proc(10, 1, "postgres"));
  if (round % 2 == 0) builder.Add(Listener(2, "0.0.0.0", 31337), Proc(11, 1, "nc"));
  for (int i = 0; i < connections; ++i) {
    const uint16_t port = static_cast<uint16_t>(10000 + (i + round) % 50000);
    builder.Add(Tcp(100 + static_cast<uint64_t>(i + round), "10.0.0.1", 5432, "10.0.0.9", port,
                    SocketState::kEstablished),
                Proc(10, 1, "postgres"));
  }
  return builder.Build();
}

using ConcurrencyTest = testing::ApiFixture;

TEST_F(ConcurrencyTest, ReadersGetWholeAnswersWhileTheAgentWrites) {
  const int64_t start = NowMs() - 60'000;
  Publish(Host(start, 0, 500));
  std::atomic<bool> writing{true};
  std::atomic<int> rounds{0};
  std::thread writer([&] {
    Result<store::HistoryWriter> history = store::HistoryWriter::Create(db());
    ASSERT_TRUE(history.ok()) << history.error().message;
    store::Alert alert;
    alert.subject = alert.fingerprint = "listener tcp/31337";
    alert.kind = 1;
    alert.severity = 4;
    alert.title = "nc listens on 31337";
    alert.reasons = R"([{"rule":"backdoor_port"}])";
    alert.first_evidence = alert.last_evidence = "{}";
    int round = 0;
    while (writing.load()) {
      ++round;
      const collectors::Snapshot snapshot = Host(start + round * 100, round, 500 + round % 7);
      ASSERT_TRUE(history->Write(snapshot).ok());
      Publish(snapshot);
      alert.first_seen = alert.last_seen = start + round * 100;
      ASSERT_TRUE(store::InsertAlert(db(), alert).ok());
      live_->PublishAlert("opened", R"({"id":1})");
      rounds = round;
    }
  });

  const std::vector<std::string> paths = {
      "/api/v1/sockets?sort=-remote_port&limit=200",
      "/api/v1/sockets?q=postgres&offset=100",
      "/api/v1/listeners",
      "/api/v1/processes",
      "/api/v1/ports/5432",
      "/api/v1/status",
      "/metrics",
      "/api/v1/alerts?status=active",
      "/api/v1/history/connections?remote=10.0.0.9&since=5m",
      "/api/v1/history/listener-events?since=5m",
      "/api/v1/history/samples?since=5m&step=1s",
  };
  std::atomic<int> answered{0};
  std::vector<std::string> failures;
  std::mutex failures_mutex;
  std::vector<std::thread> readers;
  for (int r = 0; r < 6; ++r) {
    readers.emplace_back([&, r] {
      httplib::Client client("127.0.0.1", server_->port());
      client.set_keep_alive(true);
      client.set_read_timeout(20, 0);
      const httplib::Headers headers = {
          {"Authorization", std::string("Bearer ") + testing::kToken}};
      for (int i = 0; i < 40; ++i) {
        const std::string& path = paths[static_cast<size_t>(r + i) % paths.size()];
        httplib::Result result = client.Get(path.c_str(), headers);
        std::string problem;
        if (!result) {
          problem = httplib::to_string(result.error());
        } else if (result->status != 200) {
          problem = std::to_string(result->status) + " " + result->body;
        } else if (!path.starts_with("/metrics") &&
                   json::parse(result->body, nullptr, false).is_discarded()) {
          problem = "not whole JSON";
        }
        if (!problem.empty()) {
          std::lock_guard lock(failures_mutex);
          failures.push_back(path + ": " + problem);
        } else {
          ++answered;
        }
        // Acting on alerts writes through another connection meanwhile.
        if (i % 10 == 0) {
          client.Post(("/api/v1/alerts/" + std::to_string(1 + i / 10) + "/ack").c_str(), headers,
                      "", "application/json");
        }
      }
    });
  }
  for (std::thread& reader : readers) reader.join();
  writing = false;
  writer.join();
  EXPECT_TRUE(failures.empty()) << failures.size() << " failed, the first: " << failures[0];
  EXPECT_EQ(answered.load(), 6 * 40);
  EXPECT_GT(rounds.load(), 1) << "the writer never overlapped the readers";
}

}  // namespace
}  // namespace portwatch::api
