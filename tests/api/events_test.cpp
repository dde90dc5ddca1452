// The live event stream (Server-Sent Events) through a real server: snapshot summaries, listeners
// appearing and disappearing, alert events; catching up with Last-Event-ID; the cap on streams;
// and a stop that ends open streams at once.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/api/api_fixture.h"
#include "tests/support/snapshot_builder.h"

namespace portwatch::api {
namespace {

using nlohmann::json;
using portwatch::testing::Listener;
using portwatch::testing::Proc;
using portwatch::testing::SnapshotBuilder;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct Event {
  int64_t id = 0;
  std::string type;
  json data;
};

// Reads /api/v1/events on a thread of its own and parses what arrives as it arrives.
class EventReader {
 public:
  EventReader(uint16_t port, const std::string& last_event_id = "") : client_("127.0.0.1", port) {
    client_.set_read_timeout(30, 0);
    httplib::Headers headers = {{"Authorization", std::string("Bearer ") + testing::kToken}};
    if (!last_event_id.empty()) headers.emplace("Last-Event-ID", last_event_id);
    thread_ = std::thread([this, headers] {
      httplib::Result result = client_.Get(
          "/api/v1/events", headers,
          [this](const httplib::Response& response) {
            std::lock_guard lock(mutex_);
            status_ = response.status;
            content_type_ = response.get_header_value("Content-Type");
            changed_.notify_all();
            return true;
          },
          [this](const char* data, size_t length) {
            std::lock_guard lock(mutex_);
            buffer_.append(data, length);
            Parse();
            changed_.notify_all();
            return true;
          });
      std::lock_guard lock(mutex_);
      ended_ = true;
      if (result && status_ == 0) status_ = result->status;
      body_ = result ? result->body : "";
      changed_.notify_all();
    });
  }
  ~EventReader() {
    client_.stop();
    thread_.join();
  }

  // The events received once `done` holds for them, or what came within 10 s.
  template <typename Done>
  std::vector<Event> WaitFor(Done done) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, std::chrono::seconds(10), [&] { return done(events_) || ended_; });
    return events_;
  }
  std::vector<Event> WaitForType(const std::string& type) {
    return WaitFor([&](const std::vector<Event>& events) {
      for (const Event& event : events) {
        if (event.type == type) return true;
      }
      return false;
    });
  }
  bool WaitForEnd(std::chrono::milliseconds within) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, within, [&] { return ended_; });
  }
  int status() {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, std::chrono::seconds(10), [&] { return status_ != 0 || ended_; });
    return status_;
  }
  std::string content_type() {
    std::lock_guard lock(mutex_);
    return content_type_;
  }

 private:
  // Whole events are "field: value" lines ended by a blank line; comments start with ':'.
  void Parse() {
    size_t end;
    while ((end = buffer_.find("\n\n")) != std::string::npos) {
      const std::string block = buffer_.substr(0, end);
      buffer_.erase(0, end + 2);
      Event event;
      bool has_data = false;
      size_t start = 0;
      while (start < block.size()) {
        size_t stop = block.find('\n', start);
        if (stop == std::string::npos) stop = block.size();
        const std::string line = block.substr(start, stop - start);
        start = stop + 1;
        if (line.starts_with("id: ")) event.id = std::stoll(line.substr(4));
        if (line.starts_with("event: ")) event.type = line.substr(7);
        if (line.starts_with("data: ")) {
          event.data = json::parse(line.substr(6), nullptr, false);
          EXPECT_FALSE(event.data.is_discarded()) << "not JSON: " << line;
          has_data = true;
        }
      }
      if (has_data) events_.push_back(std::move(event));
    }
  }

  httplib::Client client_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::string buffer_;
  std::vector<Event> events_;
  int status_ = 0;
  std::string content_type_;
  std::string body_;
  bool ended_ = false;
};

collectors::Snapshot WithListeners(std::vector<uint16_t> ports) {
  SnapshotBuilder builder(1'700'000'000'000);
  uint64_t cookie = 1;
  for (uint16_t port : ports)
    builder.Add(Listener(cookie++ + port, "0.0.0.0", port), Proc(10, 1, "d"));
  return builder.Build();
}

std::vector<std::string> Types(const std::vector<Event>& events) {
  std::vector<std::string> types;
  for (const Event& event : events) types.push_back(event.type);
  return types;
}

class EventsTest : public testing::ApiFixture {};

TEST_F(EventsTest, StreamsSnapshotsListenerChangesAndAlertsAsTheyHappen) {
  Publish(WithListeners({22}));
  EventReader reader(server_->port());
  ASSERT_EQ(reader.status(), 200);
  EXPECT_EQ(reader.content_type(), "text/event-stream");

  Publish(WithListeners({22, 31337}));
  std::vector<Event> events = reader.WaitForType("listener_appeared");
  ASSERT_THAT(Types(events), ElementsAre("listener_appeared", "snapshot"))
      << "only what happened after the stream opened";
  EXPECT_EQ(events[0].data["socket"]["local_port"], 31337);
  EXPECT_EQ(events[0].data["socket"]["process"], "d");
  EXPECT_EQ(events[1].data["sockets"], 2);

  Publish(WithListeners({22}));
  live_->PublishAlert("opened", R"({"id":7,"title":"nc listens on 31337"})");
  events = reader.WaitForType("alert_opened");
  ASSERT_THAT(Types(events), ElementsAre("listener_appeared", "snapshot", "listener_disappeared",
                                         "snapshot", "alert_opened"));
  EXPECT_EQ(events[2].data["socket"]["local_port"], 31337);
  EXPECT_EQ(events[4].data["id"], 7);
  for (size_t i = 1; i < events.size(); ++i) EXPECT_EQ(events[i].id, events[i - 1].id + 1);
}

TEST_F(EventsTest, AReconnectingClientCatchesUpFromItsLastEventId) {
  Publish(WithListeners({22}));
  int64_t first_missed = 0;
  {
    EventReader reader(server_->port());
    ASSERT_EQ(reader.status(), 200);
    Publish(WithListeners({22, 8080}));
    const std::vector<Event> events = reader.WaitForType("snapshot");
    ASSERT_FALSE(events.empty());
    first_missed = events.back().id + 1;
  }
  // Meanwhile, while nobody listens:
  Publish(WithListeners({22}));
  live_->PublishAlert("resolved", R"({"id":9})");
  EventReader again(server_->port(), std::to_string(first_missed - 1));
  const std::vector<Event> caught_up = again.WaitForType("alert_resolved");
  ASSERT_THAT(Types(caught_up), ElementsAre("listener_disappeared", "snapshot", "alert_resolved"));
  EXPECT_EQ(caught_up[0].id, first_missed);
}

TEST_F(EventsTest, StreamsAreCappedAndStopEndsThemAtOnce) {
  Publish(WithListeners({22}));
  std::vector<std::unique_ptr<EventReader>> readers;
  for (size_t i = 0; i < kMaxStreams; ++i) {
    readers.push_back(std::make_unique<EventReader>(server_->port()));
    ASSERT_EQ(readers.back()->status(), 200);
  }
  EXPECT_THAT(ErrorOf(Get("/api/v1/events"), 503), HasSubstr("event streams are open already"));
  // Other routes are still served while the streams hold their threads.
  EXPECT_EQ(GetJson("/api/v1/listeners")["total"], 1);

  const auto started = std::chrono::steady_clock::now();
  server_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
  for (auto& reader : readers) EXPECT_TRUE(reader->WaitForEnd(std::chrono::seconds(2)));
}

TEST_F(EventsTest, AClosedStreamFreesItsPlace) {
  Publish(WithListeners({22}));
  for (size_t round = 0; round < 3; ++round) {
    std::vector<std::unique_ptr<EventReader>> readers;
    for (size_t i = 0; i < kMaxStreams; ++i) {
      readers.push_back(std::make_unique<EventReader>(server_->port()));
      ASSERT_EQ(readers.back()->status(), 200) << "round " << round;
    }
    readers.clear();
    // The server notices a client went away at its next write: the next snapshot.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    Publish(WithListeners({22}));
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
  }
}

}  // namespace
}  // namespace portwatch::api
