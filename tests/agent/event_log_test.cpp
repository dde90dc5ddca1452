// EventLog: JSON lines that log shippers read, surviving logrotate moving the file away.

#include "agent/event_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace portwatch::agent {
namespace {

using portwatch::testing::TempDir;
using ::testing::HasSubstr;

constexpr int64_t kAt = 1'790'000'000'123;

AlertChange Opened(int64_t id) {
  AlertChange change;
  change.at = kAt;
  change.kind = store::AlertEventKind::kOpened;
  change.alert.id = id;
  change.alert.subject = "listener tcp/31337 exposure=all program=/tmp/nc user=root";
  change.alert.severity = 4;
  change.alert.kind = 1;
  change.alert.title = "nc (pid 7, user root) listens on *:31337/tcp";
  change.alert.reasons = R"([{"rule":"backdoor_port","severity":"high","mitre":"T1571"}])";
  change.alert.first_seen = change.alert.last_seen = kAt;
  change.alert.first_evidence = change.alert.last_evidence = R"({"local_port":31337})";
  return change;
}

std::vector<nlohmann::json> Lines(const std::string& path) {
  std::ifstream file(path);
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(file, line);) {
    lines.push_back(nlohmann::json::parse(line, nullptr, false));
    EXPECT_FALSE(lines.back().is_discarded()) << line;
  }
  return lines;
}

TEST(EventLog, WritesOneJsonObjectPerLine) {
  TempDir dir;
  const std::string path = dir.path() + "/events.jsonl";
  Result<std::unique_ptr<EventLog>> log = EventLog::Open(path);
  ASSERT_TRUE(log.ok()) << log.error().message;
  (*log)->Write({Opened(1), Opened(2)});
  const std::vector<nlohmann::json> lines = Lines(path);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["event"], "alert_opened");
  EXPECT_EQ(lines[0]["time"], "2026-09-21T14:13:20.123Z");
  EXPECT_EQ(lines[0]["alert"]["severity"], "high");
  EXPECT_EQ(lines[0]["alert"]["kind"], "listener");
  EXPECT_EQ(lines[0]["alert"]["reasons"][0]["mitre"], "T1571");
  EXPECT_EQ(lines[0]["alert"]["first_evidence"]["local_port"], 31337);
  EXPECT_EQ(lines[1]["alert"]["id"], 2);
}

TEST(EventLog, StartsANewFileWhenLogrotateMovesTheOldOneAway) {
  TempDir dir;
  const std::string path = dir.path() + "/events.jsonl";
  Result<std::unique_ptr<EventLog>> log = EventLog::Open(path);
  ASSERT_TRUE(log.ok());
  (*log)->Write({Opened(1)});
  std::filesystem::rename(path, path + ".1");
  (*log)->Write({Opened(2)});
  ASSERT_EQ(Lines(path + ".1").size(), 1u);
  const std::vector<nlohmann::json> fresh = Lines(path);
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_EQ(fresh[0]["alert"]["id"], 2);
  // Deleted outright: the same.
  std::filesystem::remove(path);
  (*log)->Write({Opened(3)});
  ASSERT_EQ(Lines(path).size(), 1u);
}

TEST(EventLog, AnUnwritablePathIsAClearError) {
  TempDir dir;
  Result<std::unique_ptr<EventLog>> log = EventLog::Open(dir.path() + "/missing/events.jsonl");
  ASSERT_FALSE(log.ok());
  EXPECT_THAT(log.error().message, HasSubstr("cannot open the events log"));
  EXPECT_THAT(log.error().message, HasSubstr("No such file or directory"));
}

}  // namespace
}  // namespace portwatch::agent
