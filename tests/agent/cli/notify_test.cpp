// Notifications end to end, as a user meets them: `portwatch notify test` against a receiver,
// target mistakes reported at load, and the agent's backdoor alert reaching a Slack-style
// receiver and a signed webhook exactly once through a 30-second outage and a SIGKILL.
// Receivers are real HTTP servers on loopback, in a network namespace of the test's own.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <ostream>
#include <set>
#include <string>
#include <thread>

#include "tests/support/namespaces.h"
#include "tests/support/portwatch_cli.h"
#include "tests/support/receiver.h"
#include "tests/support/recording.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait_for.h"

namespace portwatch::agent {
namespace {

using nlohmann::json;
using portwatch::testing::CommandResult;
using portwatch::testing::Describe;
using portwatch::testing::OwnNamespaces;
using portwatch::testing::Portwatch;
using portwatch::testing::ReceivedRequest;
using portwatch::testing::Receiver;
using portwatch::testing::Recording;
using portwatch::testing::Reply;
using portwatch::testing::TempDir;
using portwatch::testing::WaitFor;
using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;
using ::testing::Not;

// What the receiver's signature header should be, computed here with OpenSSL directly.
std::string Signature(const std::string& key, const std::string& body) {
  unsigned char digest[32];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest, &length);
  std::string hex = "sha256=";
  for (unsigned int i = 0; i < length; ++i) {
    constexpr char kDigits[] = "0123456789abcdef";
    hex += kDigits[digest[i] >> 4];
    hex += kDigits[digest[i] & 15];
  }
  return hex;
}

TEST(NotifyTestCommand, SendsASignedTestMessageAndPrintsTheAnswer) {
  TempDir dir;
  Receiver receiver;
  receiver.SetReplies([](const ReceivedRequest&, size_t) {
    return Reply{202, "{\"accepted\":true}", {}, milliseconds(0)};
  });
  const std::string url_file = dir.WriteFile("url", receiver.Url("/hooks/T0/SECRET123") + "\n");
  const std::string key_file = dir.WriteFile("key", "k3y\n");
  const std::string config =
      dir.WriteFile("portwatch.yaml",
                    "notify:\n  host: web-1\n  targets:\n    - name: hook\n      type: webhook\n"
                    "      url_file: " +
                        url_file + "\n      hmac_key_file: " + key_file + "\n");
  const CommandResult result = Portwatch({"notify", "test", "hook", "--config", config});
  ASSERT_EQ(result.exit_code, 0) << Describe(result);
  EXPECT_THAT(result.out, HasSubstr("HTTP 202"));
  EXPECT_THAT(result.out, HasSubstr("{\"accepted\":true}"));
  EXPECT_THAT(result.out, HasSubstr("http://127.0.0.1:"));
  EXPECT_THAT(result.out + result.err, Not(HasSubstr("SECRET123")));

  ASSERT_EQ(receiver.Count(), 1u);
  const ReceivedRequest request = receiver.Requests()[0];
  EXPECT_EQ(request.path, "/hooks/T0/SECRET123");
  EXPECT_EQ(request.Header("x-portwatch-signature"), Signature("k3y", request.body));
  const json body = json::parse(request.body, nullptr, false);
  ASSERT_TRUE(body.is_object()) << request.body;
  EXPECT_EQ(body.value("test", false), true);
  EXPECT_EQ(body.value("host", ""), "web-1");
}

TEST(NotifyTestCommand, SaysWhenTheTargetRefuses) {
  TempDir dir;
  Receiver receiver;
  receiver.SetReplies([](const ReceivedRequest&, size_t) {
    return Reply{404, "no_team", {}, milliseconds(0)};
  });
  const std::string config = dir.WriteFile(
      "portwatch.yaml", "notify:\n  targets:\n    - name: chat\n      type: slack\n      url: " +
                            receiver.Url("/services/T0/B0/X") + "\n");
  const CommandResult result = Portwatch({"notify", "test", "chat", "--config", config});
  EXPECT_EQ(result.exit_code, 3) << Describe(result);
  EXPECT_THAT(result.out, HasSubstr("HTTP 404"));
  EXPECT_THAT(result.out, HasSubstr("no_team"));
  EXPECT_THAT(result.err, HasSubstr("chat answered HTTP 404"));
}

TEST(NotifyTestCommand, SaysWhenNothingAnswers) {
  TempDir dir;
  Receiver receiver(/*start=*/false);
  const std::string config = dir.WriteFile(
      "portwatch.yaml", "notify:\n  targets:\n    - name: chat\n      type: discord\n      url: " +
                            receiver.Url("/api/webhooks/1/SECRET") + "\n      timeout: 2s\n");
  const CommandResult result = Portwatch({"notify", "test", "chat", "--config", config});
  EXPECT_EQ(result.exit_code, 3) << Describe(result);
  EXPECT_THAT(result.err, HasSubstr("chat (discord, http://127.0.0.1:"));
  EXPECT_THAT(result.err, Not(HasSubstr("SECRET")));
  EXPECT_EQ(portwatch::testing::Lines(result.err).size(), 1u) << result.err;
}

TEST(NotifyTestCommand, NamesTheTargetsWhenAskedForAnother) {
  TempDir dir;
  const std::string config =
      dir.WriteFile("portwatch.yaml",
                    "notify:\n  targets:\n    - name: chat\n      type: slack\n"
                    "      url: http://127.0.0.1:9/x\n");
  const CommandResult result = Portwatch({"notify", "test", "pager", "--config", config});
  EXPECT_EQ(result.exit_code, 2) << Describe(result);
  EXPECT_THAT(result.err, HasSubstr("no target named 'pager'"));
  EXPECT_THAT(result.err, HasSubstr("its targets are chat"));
}

struct BadTarget {
  std::string name;
  std::string target;    // the YAML of one target, indented under "targets:"
  std::string expected;  // in the error
};

// gtest shows a parameter by this in test names and failures, instead of its bytes.
void PrintTo(const BadTarget& bad, std::ostream* out) { *out << bad.name; }

class BadTargetConfig : public ::testing::TestWithParam<BadTarget> {};

TEST_P(BadTargetConfig, StopsTheAgentAtLoadWithFileLineAndFix) {
  TempDir dir;
  const std::string config =
      dir.WriteFile("portwatch.yaml", "interval: 1s\nnotify:\n  targets:\n" + GetParam().target);
  const CommandResult result =
      Portwatch({"agent", "--config", config, "--db", dir.path() + "/history.db"});
  EXPECT_EQ(result.exit_code, 2) << Describe(result);
  EXPECT_THAT(result.err, HasSubstr(config + ":"));
  EXPECT_THAT(result.err, HasSubstr(GetParam().expected));
  EXPECT_THAT(result.err, Not(HasSubstr("SECRET")));
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/history.db")) << "nothing starts";
}

INSTANTIATE_TEST_SUITE_P(
    Mistakes, BadTargetConfig,
    ::testing::Values(
        BadTarget{"MissingUrl", "    - name: chat\n      type: slack\n", "no URL"},
        BadTarget{"UnknownType",
                  "    - name: chat\n      type: slak\n      url: https://x.example/SECRET\n",
                  "unknown type 'slak'"},
        BadTarget{"BadTemplate",
                  "    - name: chat\n      type: slack\n      url: https://x.example/SECRET\n"
                  "      template: '{{prgram}} on {{port}}'\n",
                  "prgram"},
        BadTarget{"NotAUrl", "    - name: chat\n      type: slack\n      url: hooks/SECRET\n",
                  "must start with https:// or http://"},
        BadTarget{"SpaceInUrl",
                  "    - name: chat\n      type: slack\n      url: 'https://x.example/a SECRET'\n",
                  "must not contain spaces"},
        BadTarget{
            "BadPort",
            "    - name: chat\n      type: slack\n      url: https://x.example:99999/SECRET\n",
            "port must be a number from 1 to 65535"},
        BadTarget{"UnsetEnvironment",
                  "    - name: chat\n      type: slack\n      url_env: PORTWATCH_TEST_UNSET_URL\n",
                  "PORTWATCH_TEST_UNSET_URL is not set"},
        BadTarget{"InlineToken",
                  "    - name: tg\n      type: telegram\n      bot_token: SECRET\n"
                  "      chat_id: '42'\n",
                  "use bot_token_file"},
        BadTarget{"DuplicateName",
                  "    - name: chat\n      type: slack\n      url: https://x.example/SECRET\n"
                  "    - name: chat\n      type: discord\n      url: https://y.example/SECRET\n",
                  "the name 'chat' is already used"},
        BadTarget{"BadRate",
                  "    - name: chat\n      type: slack\n      url: https://x.example/SECRET\n"
                  "      rate_limit: lots\n",
                  "'lots' is not a rate"},
        BadTarget{"BadSeverity",
                  "    - name: chat\n      type: slack\n      url: https://x.example/SECRET\n"
                  "      min_severity: urgent\n",
                  "'urgent' is not a severity"},
        BadTarget{"UnknownKey",
                  "    - name: chat\n      type: slack\n      url: https://x.example/SECRET\n"
                  "      channel: '#ops'\n",
                  "unknown key 'channel'"}),
    [](const ::testing::TestParamInfo<BadTarget>& param) { return param.param.name; });

// The agent tests' targets take only backdoor_port alerts: the receivers themselves are
// listeners the agent reports too (an ephemeral port, and a test binary that may run from /tmp).

// The deliveries in the agent's outbox, by status, through `portwatch notify status --json`.
json Status(const std::string& db) {
  const CommandResult result = Portwatch({"notify", "status", "--json", "--db", db});
  EXPECT_EQ(result.exit_code, 0) << Describe(result);
  json parsed = json::parse(result.out, nullptr, false);
  return parsed.is_object() ? parsed : json::object();
}

int64_t Count(const json& status, const std::string& target, const std::string& field) {
  if (!status.contains("targets") || !status["targets"].contains(target)) return 0;
  return status["targets"][target].value(field, int64_t{0});
}

// Once the agent has learned its baseline (saved in `state_dir`), a copy of sleep named nc in the
// test's directory listens on 31337: the backdoor alert the targets take. Null when the agent
// never learned one.
std::unique_ptr<portwatch::testing::ChildProcess> BackdoorOnceLearned(const TempDir& dir,
                                                                      const std::string& state_dir,
                                                                      const Recording& agent) {
  if (!WaitFor([&] { return std::filesystem::exists(state_dir + "/baseline.yaml"); },
               seconds(10))) {
    ADD_FAILURE() << "no baseline learned: " << agent.Stderr();
    return nullptr;
  }
  const std::string program = dir.path() + "/nc";
  std::filesystem::copy_file("/usr/bin/sleep", program);
  return portwatch::testing::ListenerProcess(program, 31337);
}

TEST(AgentNotify, TheBackdoorAlertReachesChatAndAWebhookOnceThroughAnOutageAndAKill) {
  OwnNamespaces namespaces(OwnNamespaces::Scope::kNetwork);
  ASSERT_TRUE(namespaces.entered()) << "needs root for a network namespace";
  const auto outage_started = std::chrono::steady_clock::now();
  Receiver slack(/*start=*/false);
  Receiver hook(/*start=*/false);
  TempDir dir;
  const std::string db = dir.path() + "/state/history.db";
  std::filesystem::create_directories(dir.path() + "/state");
  const std::string key_file = dir.WriteFile("hmac.key", "s3cret-key\n");
  const std::string config = dir.WriteFile("portwatch.yaml",
                                           "interval: 250ms\n"
                                           "notify:\n"
                                           "  host: test-host\n"
                                           "  dashboard_url: http://127.0.0.1:7678\n"
                                           "  retry: {initial: 200ms, max: 2s}\n"
                                           "  targets:\n"
                                           "    - name: chat\n"
                                           "      type: slack\n"
                                           "      url_env: PORTWATCH_TEST_SLACK_URL\n"
                                           "      rules: [backdoor_port]\n"
                                           "    - name: hook\n"
                                           "      type: webhook\n"
                                           "      url: " +
                                               hook.Url("/portwatch") +
                                               "\n"
                                               "      hmac_key_file: " +
                                               key_file +
                                               "\n"
                                               "      rules: [backdoor_port]\n");
  setenv("PORTWATCH_TEST_SLACK_URL", slack.Url("/services/T0/B0/SECRET").c_str(), 1);

  // 1. Receivers down. A program in a temporary directory listens on 31337: the alert is raised
  //    and its deliveries wait in the outbox, retried.
  auto agent = std::make_unique<Recording>(
      dir, std::vector<std::string>{"--config", config, "--db", db}, "agent");
  auto listener = BackdoorOnceLearned(dir, dir.path() + "/state", *agent);
  ASSERT_NE(listener, nullptr);
  const int listener_pid = listener->pid();
  ASSERT_TRUE(WaitFor(
      [&] {
        const json status = Status(db);
        if (Count(status, "chat", "pending") == 0) return false;
        for (const json& row : status["deliveries"]) {
          if (row["target"] == "chat" && row["attempts"].get<int>() >= 2) return true;
        }
        return false;
      },
      seconds(10)))
      << agent->Stderr() << Status(db).dump(2);

  // 2. The agent dies without a chance to flush anything; the listener goes meanwhile; a new
  //    agent resolves the alert and carries on with the outbox.
  agent->Signal(SIGKILL);
  agent->Wait(seconds(5));
  listener.reset();
  agent = std::make_unique<Recording>(dir, std::vector<std::string>{"--config", config, "--db", db},
                                      "agent");
  ASSERT_TRUE(WaitFor([&] { return Count(Status(db), "chat", "pending") >= 2; }, seconds(10)))
      << agent->Stderr() << Status(db).dump(2);

  // 3. 30 seconds after they went down, the receivers come back: everything arrives, once.
  std::this_thread::sleep_until(outage_started + seconds(30));
  EXPECT_EQ(slack.Count(), 0u);
  slack.Start();
  hook.Start();
  ASSERT_TRUE(WaitFor(
      [&] {
        const json status = Status(db);
        return Count(status, "chat", "delivered") == 2 && Count(status, "hook", "delivered") == 2;
      },
      seconds(15)))
      << agent->Stderr() << Status(db).dump(2);
  std::this_thread::sleep_for(seconds(2));  // nothing more comes
  const json status = Status(db);
  EXPECT_EQ(Count(status, "chat", "pending") + Count(status, "chat", "failed"), 0);
  EXPECT_EQ(Count(status, "hook", "pending") + Count(status, "hook", "failed"), 0);

  const std::vector<ReceivedRequest> chat = slack.Requests();
  ASSERT_EQ(chat.size(), 2u);
  EXPECT_EQ(chat[0].path, "/services/T0/B0/SECRET");
  const json opened = json::parse(chat[0].body, nullptr, false);
  ASSERT_TRUE(opened.is_object()) << chat[0].body;
  const std::string whole = opened.dump();
  for (const std::string& expected :
       {std::string("test-host"), std::string("nc"), std::to_string(listener_pid),
        std::string("31337"), std::string("backdoor_port"), std::string("root"),
        std::string("http://127.0.0.1:7678/#/alerts/")}) {
    EXPECT_THAT(whole, HasSubstr(expected)) << opened.dump(2);
  }
  EXPECT_THAT(opened.value("text", ""), HasSubstr("opened"));
  EXPECT_THAT(json::parse(chat[1].body, nullptr, false).value("text", ""), HasSubstr("resolved"));

  const std::vector<ReceivedRequest> hooked = hook.Requests();
  ASSERT_EQ(hooked.size(), 2u);
  std::set<std::string> keys;
  for (const ReceivedRequest& request : hooked) {
    keys.insert(request.Header("idempotency-key"));
    EXPECT_EQ(request.Header("x-portwatch-signature"), Signature("s3cret-key", request.body));
  }
  EXPECT_EQ(keys.size(), 2u);
  EXPECT_EQ(json::parse(hooked[0].body, nullptr, false)["event"]["kind"], "opened");
  EXPECT_EQ(json::parse(hooked[1].body, nullptr, false)["event"]["kind"], "resolved");

  // Secrets stay out of the logs.
  agent->Signal(SIGTERM);
  EXPECT_EQ(agent->Wait(seconds(5)), 0);
  EXPECT_THAT(agent->Stderr(), Not(HasSubstr("SECRET")));
  EXPECT_THAT(agent->Stderr(), HasSubstr("notify: target 'chat' (http://127.0.0.1:"));
  unsetenv("PORTWATCH_TEST_SLACK_URL");
}

// A webhook target that takes only backdoor alerts, retried every `retry`.
std::string HookConfig(const TempDir& dir, const Receiver& receiver, const std::string& retry) {
  return dir.WriteFile("portwatch.yaml", "interval: 250ms\nnotify:\n  retry: {initial: " + retry +
                                             ", max: " + retry +
                                             "}\n  targets:\n    - name: hook\n"
                                             "      type: webhook\n      rules: [backdoor_port]\n"
                                             "      url: " +
                                             receiver.Url("/hook") + "\n");
}

TEST(AgentNotify, ASecondAgentOnTheSameDatabaseSendsNothing) {
  OwnNamespaces namespaces(OwnNamespaces::Scope::kNetwork);
  ASSERT_TRUE(namespaces.entered()) << "needs root for a network namespace";
  Receiver receiver(/*start=*/false);
  TempDir dir;
  const std::string db = dir.path() + "/history.db";
  const std::string config = HookConfig(dir, receiver, "3s");
  Recording agent(dir, {"--config", config, "--db", db}, "agent");
  auto listener = BackdoorOnceLearned(dir, dir.path(), agent);
  ASSERT_NE(listener, nullptr);
  ASSERT_TRUE(WaitFor([&] { return Count(Status(db), "hook", "pending") == 1; }, seconds(10)))
      << agent.Stderr();

  // The receiver is back while the running agent backs off; a second agent started by mistake is
  // turned away by the lock before it sends anything.
  receiver.Start();
  const CommandResult second = Portwatch({"agent", "--config", config, "--db", db});
  EXPECT_EQ(second.exit_code, 3) << Describe(second);
  EXPECT_THAT(second.err, HasSubstr(std::to_string(agent.pid())));
  ASSERT_TRUE(WaitFor([&] { return Count(Status(db), "hook", "delivered") == 1; }, seconds(10)))
      << agent.Stderr();
  std::this_thread::sleep_for(seconds(1));
  EXPECT_EQ(receiver.Count(), 1u);
}

TEST(AgentNotify, AKillBetweenSendingAndRecordingSendsItOnceMoreWithTheSameKey) {
  OwnNamespaces namespaces(OwnNamespaces::Scope::kNetwork);
  ASSERT_TRUE(namespaces.entered()) << "needs root for a network namespace";
  Receiver receiver;
  // The first answer comes late: the agent is killed while it waits for it.
  receiver.SetReplies([](const ReceivedRequest&, size_t n) {
    return n == 0 ? Reply{200, "ok", {}, milliseconds(3000)} : Reply{};
  });
  TempDir dir;
  const std::string db = dir.path() + "/history.db";
  const std::string config = HookConfig(dir, receiver, "500ms");
  auto agent = std::make_unique<Recording>(
      dir, std::vector<std::string>{"--config", config, "--db", db}, "agent");
  auto listener = BackdoorOnceLearned(dir, dir.path(), *agent);
  ASSERT_NE(listener, nullptr);
  ASSERT_TRUE(receiver.WaitForCount(1, seconds(10))) << agent->Stderr();
  agent->Signal(SIGKILL);
  agent->Wait(seconds(5));

  agent = std::make_unique<Recording>(dir, std::vector<std::string>{"--config", config, "--db", db},
                                      "agent");
  ASSERT_TRUE(WaitFor([&] { return Count(Status(db), "hook", "delivered") == 1; }, seconds(10)))
      << agent->Stderr();
  std::this_thread::sleep_for(seconds(1));
  const std::vector<ReceivedRequest> requests = receiver.Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].Header("idempotency-key"), requests[1].Header("idempotency-key"));
  EXPECT_FALSE(requests[0].Header("idempotency-key").empty());
  EXPECT_EQ(json::parse(requests[0].body)["event"]["id"],
            json::parse(requests[1].body)["event"]["id"]);
}

TEST(NotifyStatus, ShowsFailedDeliveriesWithTheReasonAndRetryQueuesThemAgain) {
  OwnNamespaces namespaces(OwnNamespaces::Scope::kNetwork);
  ASSERT_TRUE(namespaces.entered()) << "needs root for a network namespace";
  Receiver receiver;
  receiver.SetReplies([](const ReceivedRequest&, size_t n) {
    return n == 0 ? Reply{410, "webhook_deleted", {}, milliseconds(0)} : Reply{};
  });
  TempDir dir;
  const std::string db = dir.path() + "/history.db";
  const std::string config =
      dir.WriteFile("portwatch.yaml",
                    "interval: 250ms\nnotify:\n  targets:\n    - name: chat\n"
                    "      type: mattermost\n      rules: [backdoor_port]\n      url: " +
                        receiver.Url("/hooks/x") + "\n");
  Recording agent(dir, {"--config", config, "--db", db}, "agent");
  auto listener = BackdoorOnceLearned(dir, dir.path(), agent);
  ASSERT_NE(listener, nullptr);
  ASSERT_TRUE(WaitFor([&] { return Count(Status(db), "chat", "failed") == 1; }, seconds(10)))
      << agent.Stderr();

  const CommandResult shown = Portwatch({"notify", "status", "--db", db});
  ASSERT_EQ(shown.exit_code, 0) << Describe(shown);
  EXPECT_THAT(shown.out, HasSubstr("failed"));
  EXPECT_THAT(shown.out, HasSubstr("HTTP 410: webhook_deleted"));
  EXPECT_THAT(agent.Stderr(), HasSubstr("refused alert"));
  const json failed = Status(db)["deliveries"];
  ASSERT_EQ(failed.size(), 1u) << failed.dump(2);
  const std::string alert_id = std::to_string(failed[0]["alert_id"].get<int64_t>());
  const CommandResult alert = Portwatch({"alerts", "show", alert_id, "--json", "--db", db});
  ASSERT_EQ(alert.exit_code, 0) << Describe(alert);
  const json deliveries = json::parse(alert.out)["deliveries"];
  ASSERT_EQ(deliveries.size(), 1u);
  EXPECT_EQ(deliveries[0]["status"], "failed");
  EXPECT_EQ(deliveries[0]["response_code"], 410);

  const CommandResult retried = Portwatch({"notify", "retry", "--failed", "--db", db});
  ASSERT_EQ(retried.exit_code, 0) << Describe(retried);
  EXPECT_THAT(retried.out, HasSubstr("1 delivery queued again"));
  ASSERT_TRUE(WaitFor([&] { return Count(Status(db), "chat", "delivered") == 1; }, seconds(5)))
      << agent.Stderr();
  EXPECT_EQ(receiver.Count(), 2u);

  const CommandResult bad = Portwatch({"notify", "retry", "abc", "--db", db});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("'abc' is not a delivery id"));
}

}  // namespace
}  // namespace portwatch::agent
