#include "agent/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"

namespace portwatch::agent {
namespace {

using portwatch::testing::TempDir;
using ::testing::HasSubstr;

TEST(Config, DefaultsMatchTheDesign) {
  const Config config = DefaultConfig();
  EXPECT_EQ(config.interval, std::chrono::seconds(1));
  EXPECT_EQ(config.log_level, "info");
  EXPECT_EQ(config.retention.max_age, std::chrono::hours(24 * 30));
  EXPECT_EQ(config.retention.max_bytes, uint64_t{1} << 30);
  EXPECT_TRUE(config.database.empty());
}

TEST(Config, TheShippedExampleLoadsToTheDefaults) {
  Result<Config> config =
      LoadConfig(std::string(PORTWATCH_SOURCE_DIR) + "/packaging/portwatch.yaml");
  ASSERT_TRUE(config.ok()) << config.error().message;
  const Config defaults = DefaultConfig();
  EXPECT_EQ(config->interval, defaults.interval);
  EXPECT_EQ(config->log_level, defaults.log_level);
  EXPECT_EQ(config->retention.max_age, defaults.retention.max_age);
  EXPECT_EQ(config->retention.max_bytes, defaults.retention.max_bytes);
  EXPECT_EQ(config->learn_for, defaults.learn_for);
  EXPECT_EQ(config->reopen_within, defaults.reopen_within);
  EXPECT_EQ(config->rules, defaults.rules);
  EXPECT_EQ(config->events, defaults.events);
}

TEST(Config, ReadsEveryKey) {
  TempDir dir;
  const std::string path = dir.WriteFile("portwatch.yaml",
                                         "interval: 250ms\n"
                                         "database: /srv/pw/history.db\n"
                                         "log_level: debug\n"
                                         "retention:\n"
                                         "  max_age: 7d\n"
                                         "  max_size: 200M\n"
                                         "rules: [/etc/portwatch/rules.d, extra.yaml]\n"
                                         "baseline:\n"
                                         "  path: /srv/pw/baseline.yaml\n"
                                         "  learn_for: 10m\n"
                                         "alerts:\n"
                                         "  reopen_within: 1h\n"
                                         "events: \"-\"\n");
  Result<Config> config = LoadConfig(path);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->rules, (std::vector<std::string>{"/etc/portwatch/rules.d", "extra.yaml"}));
  EXPECT_EQ(config->baseline, "/srv/pw/baseline.yaml");
  EXPECT_EQ(config->learn_for, std::chrono::minutes(10));
  EXPECT_EQ(config->reopen_within, std::chrono::hours(1));
  EXPECT_EQ(config->events, "-");
  EXPECT_EQ(config->interval, std::chrono::milliseconds(250));
  EXPECT_EQ(config->database, "/srv/pw/history.db");
  EXPECT_EQ(config->log_level, "debug");
  EXPECT_EQ(config->retention.max_age, std::chrono::hours(24 * 7));
  EXPECT_EQ(config->retention.max_bytes, uint64_t{200} << 20);
  EXPECT_EQ(config->source, path);
}

TEST(Config, AnEmptyFileMeansTheDefaults) {
  TempDir dir;
  Result<Config> config = LoadConfig(dir.WriteFile("empty.yaml", ""));
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->interval, std::chrono::seconds(1));
}

TEST(Config, EveryProblemNamesTheFileAndLine) {
  TempDir dir;
  const std::string path = dir.WriteFile("bad.yaml",
                                         "interval: 5x\n"
                                         "intervall: 1s\n"
                                         "log_level: loud\n"
                                         "retention:\n"
                                         "  max_age: [1, 2]\n"
                                         "  max_size: lots\n"
                                         "  keep: 3\n");
  Result<Config> config = LoadConfig(path);
  ASSERT_FALSE(config.ok());
  const std::string& message = config.error().message;
  EXPECT_THAT(message, HasSubstr(path + ":1: interval: '5x' is not a duration"));
  EXPECT_THAT(message, HasSubstr(path + ":2: unknown key 'intervall'"));
  EXPECT_THAT(message, HasSubstr(path + ":3: log_level: 'loud' is not a level"));
  EXPECT_THAT(message, HasSubstr(path + ":5: retention.max_age: expected a duration"));
  EXPECT_THAT(message, HasSubstr(path + ":6: retention.max_size: 'lots' is not a size"));
  EXPECT_THAT(message, HasSubstr(path + ":7: unknown key 'keep' in retention"));
}

TEST(Config, RejectsWhatIsNotAConfig) {
  TempDir dir;
  Result<Config> list = LoadConfig(dir.WriteFile("list.yaml", "- 1\n- 2\n"));
  ASSERT_FALSE(list.ok());
  EXPECT_THAT(list.error().message, HasSubstr("expected a mapping"));

  Result<Config> broken = LoadConfig(dir.WriteFile("broken.yaml", "interval: [1s\n"));
  ASSERT_FALSE(broken.ok());
  EXPECT_THAT(broken.error().message, HasSubstr("not valid YAML"));

  Result<Config> missing = LoadConfig(dir.path() + "/nope.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().message, HasSubstr("nope.yaml"));

  Result<Config> fast = LoadConfig(dir.WriteFile("fast.yaml", "interval: 10ms\n"));
  ASSERT_FALSE(fast.ok());
  EXPECT_THAT(fast.error().message, HasSubstr("at least 100ms"));
}

}  // namespace
}  // namespace portwatch::agent
