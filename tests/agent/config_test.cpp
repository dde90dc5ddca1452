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
  EXPECT_TRUE(config->notify.targets.empty());
  EXPECT_EQ(config->notify.max_age, defaults.notify.max_age);
  EXPECT_EQ(config->notify.retry_initial, defaults.notify.retry_initial);
  EXPECT_EQ(config->notify.retry_max, defaults.notify.retry_max);
}

TEST(Config, ReadsNotifyTargetsWithSecretsFromFilesAndTheEnvironment) {
  TempDir dir;
  const std::string url_file = dir.WriteFile("secrets/slack", "https://hooks.example/T0/X\n\n");
  const std::string key_file = dir.WriteFile("secrets/key", "k3y\n");
  setenv("PORTWATCH_TEST_TOKEN", "123:abc", 1);
  const std::string path = dir.WriteFile("portwatch.yaml",
                                         "notify:\n"
                                         "  host: web-1\n"
                                         "  dashboard_url: https://web-1.example:7678\n"
                                         "  max_age: 2h\n"
                                         "  retry: {initial: 500ms, max: 1m}\n"
                                         "  targets:\n"
                                         "    - name: chat\n"
                                         "      type: slack\n"
                                         "      url_file: " +
                                             url_file +
                                             "\n"
                                             "      min_severity: high\n"
                                             "      rules: [backdoor_port, raw_socket]\n"
                                             "      send_resolved: false\n"
                                             "      rate_limit: 5/s\n"
                                             "      template: '{{severity}}: {{title}}'\n"
                                             "      timeout: 3s\n"
                                             "    - name: tg\n"
                                             "      type: telegram\n"
                                             "      bot_token_env: PORTWATCH_TEST_TOKEN\n"
                                             "      chat_id: '-100123'\n"
                                             "    - name: hook\n"
                                             "      type: webhook\n"
                                             "      url: http://127.0.0.1:9000/hook\n"
                                             "      hmac_key_file: " +
                                             key_file + "\n");
  Result<Config> config = LoadConfig(path);
  unsetenv("PORTWATCH_TEST_TOKEN");
  ASSERT_TRUE(config.ok()) << config.error().message;
  const notify::NotifyConfig& notify = config->notify;
  EXPECT_EQ(notify.host, "web-1");
  EXPECT_EQ(notify.dashboard_url, "https://web-1.example:7678");
  EXPECT_EQ(notify.max_age, std::chrono::hours(2));
  EXPECT_EQ(notify.retry_initial, std::chrono::milliseconds(500));
  EXPECT_EQ(notify.retry_max, std::chrono::minutes(1));
  ASSERT_EQ(notify.targets.size(), 3u);
  const notify::TargetConfig& chat = notify.targets[0];
  EXPECT_EQ(chat.url, "https://hooks.example/T0/X");  // the file's line end cut
  EXPECT_EQ(chat.min_severity, 4);
  EXPECT_EQ(chat.rules, (std::vector<std::string>{"backdoor_port", "raw_socket"}));
  EXPECT_FALSE(chat.send_resolved);
  EXPECT_EQ(chat.rate_limit, 5);
  EXPECT_EQ(chat.rate_period, std::chrono::seconds(1));
  EXPECT_EQ(chat.template_text, "{{severity}}: {{title}}");
  EXPECT_EQ(chat.timeout, std::chrono::seconds(3));
  EXPECT_EQ(chat.source, path + ":7");
  EXPECT_EQ(notify.targets[1].bot_token, "123:abc");
  EXPECT_EQ(notify.targets[1].chat_id, "-100123");
  EXPECT_EQ(notify.targets[2].hmac_key, "k3y");
  EXPECT_TRUE(notify.targets[2].send_resolved);
}

TEST(Config, ASecretFileThatCannotBeReadIsNamedButNotShown) {
  TempDir dir;
  const std::string path = dir.WriteFile("portwatch.yaml",
                                         "notify:\n"
                                         "  targets:\n"
                                         "    - name: chat\n"
                                         "      type: slack\n"
                                         "      url_file: /nonexistent/slack-url\n"
                                         "    - name: other\n"
                                         "      type: slack\n"
                                         "      url: https://hooks.example/SECRET\n"
                                         "      url_env: SOMETHING\n");
  Result<Config> config = LoadConfig(path);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(
      config.error().message,
      HasSubstr(path + ":5: notify.targets[0].url_file: cannot read /nonexistent/slack-url"));
  EXPECT_THAT(config.error().message,
              HasSubstr(path + ":6: notify.targets[1]: set only one of url"));
  EXPECT_THAT(config.error().message, ::testing::Not(HasSubstr("SECRET")));
}

TEST(Config, RatesReadAsACountPerPeriod) {
  EXPECT_EQ(notify::ParseRate("30/min").value(),
            std::make_pair(30, std::chrono::milliseconds(std::chrono::minutes(1))));
  EXPECT_EQ(notify::ParseRate("2/s").value(),
            std::make_pair(2, std::chrono::milliseconds(std::chrono::seconds(1))));
  EXPECT_EQ(notify::ParseRate("100/hour").value(),
            std::make_pair(100, std::chrono::milliseconds(std::chrono::hours(1))));
  EXPECT_EQ(notify::ParseRate("12").value().second, std::chrono::minutes(1));
  for (const char* bad : {"", "0/min", "-1/min", "5/fortnight", "x/s", "5/", "1000000/s"}) {
    EXPECT_FALSE(notify::ParseRate(bad).ok()) << bad;
  }
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
                                         "  resolve_after: 1500ms\n"
                                         "events: \"-\"\n");
  Result<Config> config = LoadConfig(path);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->rules, (std::vector<std::string>{"/etc/portwatch/rules.d", "extra.yaml"}));
  EXPECT_EQ(config->baseline, "/srv/pw/baseline.yaml");
  EXPECT_EQ(config->learn_for, std::chrono::minutes(10));
  EXPECT_EQ(config->reopen_within, std::chrono::hours(1));
  EXPECT_EQ(config->resolve_after, std::chrono::milliseconds(1500));
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
