// The agent's REST API end to end, as an operator or Prometheus meets it: the real agent in a
// network namespace of its own, with its API on a free loopback port, a program listening on a
// backdoor port, and plain HTTP requests to every kind of route — what curl would see.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/stat.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "tests/support/namespaces.h"
#include "tests/support/portwatch_cli.h"
#include "tests/support/recording.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait_for.h"

namespace portwatch::agent {
namespace {

using nlohmann::json;
using portwatch::testing::OwnNamespaces;
using portwatch::testing::Portwatch;
using portwatch::testing::Recording;
using portwatch::testing::TempDir;
using portwatch::testing::WaitFor;
using ::testing::HasSubstr;

std::string ReadFile(const std::string& path) {
  std::ifstream file(path);
  return std::string(std::istreambuf_iterator<char>(file), {});
}

std::string Trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// An HTTP client for the agent's API, found the way the CLI finds it: the URL in api.address and
// the token in api.token beside the database.
class AgentApi {
 public:
  explicit AgentApi(const std::string& state) {
    const std::string url = Trimmed(ReadFile(state + "/api.address"));
    EXPECT_TRUE(url.starts_with("http://127.0.0.1:")) << url;
    token_ = Trimmed(ReadFile(state + "/api.token"));
    client_ = std::make_unique<httplib::Client>(url);
    client_->set_read_timeout(10, 0);
  }

  httplib::Result Get(const std::string& path, bool token = true) {
    httplib::Headers headers;
    if (token) headers.emplace("Authorization", "Bearer " + token_);
    return client_->Get(path.c_str(), headers);
  }
  json GetJson(const std::string& path) {
    httplib::Result result = Get(path);
    EXPECT_TRUE(result && result->status == 200)
        << path << ": " << (result ? result->body : httplib::to_string(result.error()));
    return result && result->status == 200 ? json::parse(result->body, nullptr, false) : json();
  }
  httplib::Result Post(const std::string& path, const std::string& body) {
    return client_->Post(path.c_str(), {{"Authorization", "Bearer " + token_}}, body,
                         "application/json");
  }
  const std::string& token() const { return token_; }

 private:
  std::string token_;
  std::unique_ptr<httplib::Client> client_;
};

TEST(AgentApi, AnswersEveryKindOfQuestionAboutARealListener) {
  OwnNamespaces namespaces(OwnNamespaces::Scope::kNetwork);
  ASSERT_TRUE(namespaces.entered()) << "needs root for a network namespace";
  TempDir dir;
  const std::string state = dir.path() + "/state";
  const std::string db = state + "/history.db";
  std::filesystem::create_directories(state);
  // This test and the `portwatch` it runs hold sockets to the API. Built in a checkout under /tmp
  // (as CI may be), their executables are rightly suspicious; here they are expected, so the only
  // alert is the listener's.
  const std::string rules = dir.WriteFile(
      "rules.yaml",
      fmt::format("detectors:\n  suspicious_exe:\n    except:\n      - exe: [\"{}\", \"{}\"]\n",
                  std::filesystem::read_symlink("/proc/self/exe").string(),
                  std::filesystem::canonical(PORTWATCH_BINARY).string()));
  const std::string config =
      dir.WriteFile("portwatch.yaml", "interval: 250ms\nrules: " + rules + "\n");
  Recording agent(dir, {"--config", config, "--db", db}, "agent");
  ASSERT_TRUE(WaitFor([&] { return std::filesystem::exists(state + "/baseline.yaml"); },
                      std::chrono::seconds(10)))
      << agent.Stderr();

  // The token: created on first start, only for the agent's user, and what `portwatch token`
  // prints.
  struct stat token_file {};
  ASSERT_EQ(stat((state + "/api.token").c_str(), &token_file), 0);
  EXPECT_EQ(token_file.st_mode & 0777, 0600);
  AgentApi api(state);
  EXPECT_EQ(api.token().size(), 64u);
  const portwatch::testing::CommandResult printed = Portwatch({"token", "--db", db});
  EXPECT_EQ(printed.exit_code, 0) << portwatch::testing::Describe(printed);
  EXPECT_EQ(Trimmed(printed.out), api.token());

  // Health needs no token; everything else does.
  ASSERT_TRUE(WaitFor(
      [&] {
        httplib::Result ready = api.Get("/readyz", false);
        return ready && ready->status == 200;
      },
      std::chrono::seconds(5)));
  EXPECT_EQ(api.Get("/api/v1/listeners", false)->status, 401);
  EXPECT_EQ(api.Get("/metrics", false)->status, 401);

  // A program in a temporary directory listens on 31337.
  const std::string program = dir.path() + "/nc";
  std::filesystem::copy_file("/usr/bin/sleep", program);
  auto listener = portwatch::testing::ListenerProcess(program, 31337);
  const std::string pid = std::to_string(listener->pid());

  json listeners;
  ASSERT_TRUE(WaitFor(
      [&] {
        listeners = api.GetJson("/api/v1/listeners");
        for (const json& group : listeners["programs"]) {
          if (group["program"] == "nc") return true;
        }
        return false;
      },
      std::chrono::seconds(5)))
      << listeners.dump(2);
  for (const json& group : listeners["programs"]) {
    if (group["program"] != "nc") continue;
    EXPECT_EQ(group["exe"], program);
    EXPECT_EQ(group["user"], "root");
    EXPECT_EQ(group["pids"][0], listener->pid());
    EXPECT_EQ(group["listeners"][0]["local_port"], 31337);
  }
  // The agent's own API listener is there too, under its own name.
  const json sockets = api.GetJson("/api/v1/sockets?port=31337&state=listen");
  ASSERT_EQ(sockets["total"], 1) << sockets.dump(2);
  EXPECT_EQ(sockets["sockets"][0]["pid"], listener->pid());
  const json port = api.GetJson("/api/v1/ports/31337");
  EXPECT_TRUE(port["held"]);
  EXPECT_EQ(port["holders"][0]["process"], "nc");
  EXPECT_EQ(api.GetJson("/api/v1/processes?")["taken_at"].is_string(), true);

  // Its alert, acknowledged over the API, is acknowledged for the CLI too.
  json alerts;
  ASSERT_TRUE(WaitFor(
      [&] {
        alerts = api.GetJson("/api/v1/alerts?status=open");
        return !alerts["alerts"].empty();
      },
      std::chrono::seconds(5)))
      << agent.Stderr();
  const json& alert = alerts["alerts"][0];
  EXPECT_THAT(alert["title"].get<std::string>(), HasSubstr("nc (pid " + pid));
  const std::string id = std::to_string(alert["id"].get<int64_t>());
  httplib::Result ack = api.Post("/api/v1/alerts/" + id + "/ack", "");
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->status, 200) << ack->body;
  const portwatch::testing::CommandResult cli = Portwatch({"alerts", "--json", "--db", db});
  EXPECT_EQ(json::parse(cli.out)[0]["status"], "acknowledged") << cli.out;

  // Prometheus sees it.
  httplib::Result metrics = api.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, HasSubstr("portwatch_alerts_open{severity=\"high\"} 1"));
  EXPECT_THAT(metrics->body, HasSubstr("portwatch_snapshot_duration_seconds_count"));

  // The history knows when it started listening.
  json history;
  ASSERT_TRUE(WaitFor(
      [&] {
        history = api.GetJson("/api/v1/history/ports/31337?since=10m");
        return !history["sockets"].empty();
      },
      std::chrono::seconds(5)));
  EXPECT_EQ(history["sockets"][0]["process"], "nc");
  EXPECT_TRUE(history["sockets"][0]["closed_at"].is_null());
  const json status = api.GetJson("/api/v1/status");
  EXPECT_EQ(status["interval_ms"], 250);
  EXPECT_GT(status["snapshots"], 1);
  EXPECT_EQ(status["alerts"]["active"], 1);

  // `portwatch status` finds the API and the token by itself.
  const portwatch::testing::CommandResult told = Portwatch({"status", "--db", db});
  EXPECT_EQ(told.exit_code, 0) << portwatch::testing::Describe(told);
  EXPECT_THAT(told.out, HasSubstr("alerts: 1 active"));
  EXPECT_THAT(told.out, HasSubstr("every 250 ms"));
  const portwatch::testing::CommandResult told_json = Portwatch({"status", "--json", "--db", db});
  EXPECT_EQ(json::parse(told_json.out, nullptr, false)["alerts"]["active"], 1) << told_json.out;

  // SIGTERM stops it within a second, API and all, and the address file goes.
  const auto stopping = std::chrono::steady_clock::now();
  agent.Signal(SIGTERM);
  EXPECT_EQ(agent.Wait(std::chrono::seconds(5)), 0) << agent.Stderr();
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, std::chrono::seconds(1));
  EXPECT_FALSE(std::filesystem::exists(state + "/api.address"));
  EXPECT_THAT(agent.Stderr(), ::testing::Not(HasSubstr(api.token())));
  const portwatch::testing::CommandResult gone = Portwatch({"status", "--db", db});
  EXPECT_EQ(gone.exit_code, 3);
  EXPECT_THAT(gone.err, HasSubstr("no agent is serving an API for " + db));
}

TEST(AgentApi, RefusesToServeBeyondLoopbackWithoutTokenOrTls) {
  TempDir dir;
  const std::string db = dir.path() + "/history.db";
  for (const std::string& api : {std::string("api: {listen: 0.0.0.0:0, auth: none}\n"),
                                 std::string("api: {listen: 0.0.0.0:0}\n"),
                                 std::string("api: {tls: {cert_file: /nonexistent.pem}}\n")}) {
    const std::string config = dir.WriteFile("portwatch.yaml", api);
    const portwatch::testing::CommandResult result =
        Portwatch({"agent", "--config", config, "--db", db});
    EXPECT_EQ(result.exit_code, 2) << api << portwatch::testing::Describe(result);
    EXPECT_THAT(result.err, HasSubstr("portwatch.yaml")) << api;
  }
  const portwatch::testing::CommandResult flag =
      Portwatch({"agent", "--listen", "0.0.0.0:0", "--db", db});
  EXPECT_EQ(flag.exit_code, 2);
  EXPECT_THAT(flag.err, HasSubstr("clear text"));
}

}  // namespace
}  // namespace portwatch::agent
