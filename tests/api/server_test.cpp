// The server itself, end to end through real connections: who may call what (the token, auth
// none, metrics auth), the security headers, CORS only when configured, TLS, binding errors, and
// the agent's own routes — status, rules and baseline, and /metrics in Prometheus's format.

#include "api/server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "store/alerts.h"
#include "store/deliveries.h"
#include "tests/api/api_fixture.h"
#include "tests/support/pki.h"
#include "tests/support/snapshot_builder.h"
#include "tests/support/sockets.h"

namespace portwatch::api {
namespace {

using collectors::SocketState;
using nlohmann::json;
using portwatch::testing::Listener;
using portwatch::testing::Proc;
using portwatch::testing::SnapshotBuilder;
using portwatch::testing::Tcp;
using portwatch::testing::Udp;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::kToken;
using ::testing::Not;

class ServerTest : public testing::ApiFixture {
 protected:
  void SetUp() override {
    ApiFixture::SetUp();
    SnapshotBuilder builder(std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
    builder.Add(Listener(1, "0.0.0.0", 5432), Proc(10, 1, "postgres"));
    builder.Add(Listener(2, "127.0.0.1", 6379), Proc(11, 1, "redis-server"));
    builder.Add(Tcp(3, "10.0.0.1", 5432, "10.0.0.9", 40000, SocketState::kEstablished),
                Proc(10, 1, "postgres"));
    builder.Add(Udp(4, "0.0.0.0", 53), Proc(12, 1, "dnsmasq"));
    builder.Add(Listener(5, "10.0.0.1", 8080), Proc(13, 1, "java"));
    collectors::Snapshot snapshot = builder.Build();
    snapshot.duration = std::chrono::milliseconds(7);
    Publish(std::move(snapshot));
  }

  httplib::Result GetWith(const std::string& path, const std::string& authorization) {
    return client_->Get(path.c_str(), {{"Authorization", authorization}});
  }
};

// --- who may call what -------------------------------------------------------------------------

TEST_F(ServerTest, ApiRoutesWantTheRightTokenAndHealthChecksWantNone) {
  httplib::Result none = Get("/api/v1/status", false);
  EXPECT_THAT(ErrorOf(none, 401), HasSubstr("portwatch token"));
  EXPECT_EQ(none->get_header_value("WWW-Authenticate"), "Bearer realm=\"portwatch\"");
  EXPECT_THAT(ErrorOf(GetWith("/api/v1/status", "Bearer nottheone"), 401), HasSubstr("wrong"));
  // One character off, same length.
  std::string almost = kToken;
  almost.back() = almost.back() == 'f' ? 'e' : 'f';
  EXPECT_THAT(ErrorOf(GetWith("/api/v1/status", "Bearer " + almost), 401), HasSubstr("wrong"));
  EXPECT_THAT(ErrorOf(GetWith("/api/v1/status", std::string("Bearer ") + kToken + "0"), 401),
              HasSubstr("wrong"));
  EXPECT_THAT(ErrorOf(GetWith("/api/v1/status", kToken), 401), HasSubstr("Bearer"));
  // The scheme is case-insensitive.
  httplib::Result right = GetWith("/api/v1/status", std::string("bearer ") + kToken);
  ASSERT_TRUE(right);
  EXPECT_EQ(right->status, 200);
  EXPECT_THAT(ErrorOf(Get("/metrics", false), 401), HasSubstr("portwatch token"));
  EXPECT_THAT(ErrorOf(Get("/api/v1/openapi.json", false), 401), HasSubstr("token"));
  for (const char* path : {"/healthz", "/readyz"}) {
    httplib::Result result = Get(path, false);
    ASSERT_TRUE(result) << path;
    EXPECT_EQ(result->status, 200) << path << ": " << result->body;
  }
}

TEST_F(ServerTest, ReadyOnlyWhileSnapshotsKeepComing) {
  SnapshotBuilder stale(1'700'000'000'000);
  stale.Add(Listener(1, "0.0.0.0", 22), Proc(10, 1, "sshd"));
  Publish(stale.Build());
  EXPECT_THAT(ErrorOf(Get("/readyz", false), 503), HasSubstr("old"));
  httplib::Result health = Get("/healthz", false);
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);  // alive, only not ready
}

TEST_F(ServerTest, AuthNoneOnLoopbackOpensTheApiAndMetricsAuthIsItsOwnChoice) {
  ApiConfig open;
  open.auth = Auth::kNone;
  StartServer(open);
  httplib::Result status = Get("/api/v1/status", false);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->status, 200);
  EXPECT_EQ(Get("/metrics", false)->status, 401);  // metrics_auth stays token

  ApiConfig metrics_only;
  metrics_only.metrics_auth = Auth::kNone;
  StartServer(metrics_only);
  EXPECT_EQ(Get("/metrics", false)->status, 200);
  EXPECT_EQ(Get("/api/v1/status", false)->status, 401);
}

TEST(ApiConfigCheck, RefusesWhatWouldExposeTheApi) {
  ApiConfig config;
  config.host = "0.0.0.0";
  config.auth = Auth::kNone;
  EXPECT_THAT(CheckApiConfig(config).error().message, HasSubstr("only on loopback"));
  config.auth = Auth::kToken;
  config.metrics_auth = Auth::kNone;
  EXPECT_THAT(CheckApiConfig(config).error().message, HasSubstr("only on loopback"));
  config.metrics_auth = Auth::kToken;
  EXPECT_THAT(CheckApiConfig(config).error().message, HasSubstr("clear text"));
  config.allow_plain_http = true;
  EXPECT_TRUE(CheckApiConfig(config).ok());
  config.allow_plain_http = false;
  config.tls_cert_file = "/etc/portwatch/cert.pem";
  EXPECT_THAT(CheckApiConfig(config).error().message, HasSubstr("both"));
  config.tls_key_file = "/etc/portwatch/key.pem";
  EXPECT_TRUE(CheckApiConfig(config).ok());
  for (const char* host : {"127.0.0.1", "127.8.9.10", "::1", "localhost"}) {
    ApiConfig loopback;
    loopback.host = host;
    loopback.auth = Auth::kNone;
    EXPECT_TRUE(CheckApiConfig(loopback).ok()) << host;
  }
}

TEST(ApiConfigListen, ParsesAddressesAndRefusesTheRestWithTheForm) {
  ApiConfig config;
  ASSERT_TRUE(ParseListen("0.0.0.0:9000", config).ok());
  EXPECT_EQ(config.host, "0.0.0.0");
  EXPECT_EQ(config.port, 9000);
  ASSERT_TRUE(ParseListen("[::1]:7678", config).ok());
  EXPECT_EQ(config.host, "::1");
  ASSERT_TRUE(ParseListen("localhost:0", config).ok());
  EXPECT_EQ(config.port, 0);
  for (const char* bad : {"7678", "127.0.0.1", "127.0.0.1:70000", "::1:7678", "[::1]",
                          "example.com:80", "127.0.0.1:http", ":7678"}) {
    Result<void> parsed = ParseListen(bad, config);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_THAT(parsed.error().message, HasSubstr("127.0.0.1:7678")) << bad;
  }
}

TEST_F(ServerTest, APortInUseIsAnErrorThatSaysWhatToDo) {
  ApiConfig taken;
  taken.port = server_->port();
  Result<std::unique_ptr<ApiServer>> second = ApiServer::Start(taken, kToken, *live_, database());
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.error().message, HasSubstr("in use"));
  EXPECT_THAT(second.error().message,
              HasSubstr("portwatch who " + std::to_string(server_->port())));
  EXPECT_FALSE(ApiServer::Start(ApiConfig{}, "", *live_, database()).ok());  // no token
}

// --- headers -----------------------------------------------------------------------------------

TEST_F(ServerTest, EveryResponseCarriesTheSecurityHeadersAndNoCorsUnlessConfigured) {
  const httplib::Headers from_elsewhere = {{"Authorization", std::string("Bearer ") + kToken},
                                           {"Origin", "https://evil.example"}};
  for (const char* path :
       {"/api/v1/status", "/api/v1/nothing", "/api/v1/sockets?x=1", "/healthz", "/metrics"}) {
    httplib::Result result = client_->Get(path, from_elsewhere);
    ASSERT_TRUE(result) << path;
    EXPECT_THAT(result->get_header_value("Content-Security-Policy"),
                HasSubstr("default-src 'none'"))
        << path;
    EXPECT_THAT(result->get_header_value("Content-Security-Policy"),
                HasSubstr("frame-ancestors 'none'"))
        << path;
    EXPECT_EQ(result->get_header_value("X-Content-Type-Options"), "nosniff") << path;
    EXPECT_EQ(result->get_header_value("X-Frame-Options"), "DENY") << path;
    EXPECT_EQ(result->get_header_value("Referrer-Policy"), "no-referrer") << path;
    EXPECT_EQ(result->get_header_value("Cache-Control"), "no-store") << path;
    EXPECT_FALSE(result->has_header("Access-Control-Allow-Origin")) << path;
    EXPECT_FALSE(result->has_header("Strict-Transport-Security")) << path;  // plain HTTP
  }
}

TEST_F(ServerTest, CorsAnswersOnlyTheConfiguredOriginsAndPreflightsNeedNoToken) {
  ApiConfig config;
  config.cors_origins = {"https://grafana.example.com"};
  StartServer(config);
  httplib::Result allowed =
      client_->Get("/api/v1/status", {{"Authorization", std::string("Bearer ") + kToken},
                                      {"Origin", "https://grafana.example.com"}});
  ASSERT_TRUE(allowed);
  EXPECT_EQ(allowed->get_header_value("Access-Control-Allow-Origin"),
            "https://grafana.example.com");
  EXPECT_EQ(allowed->get_header_value("Vary"), "Origin");
  httplib::Result other =
      client_->Get("/api/v1/status", {{"Authorization", std::string("Bearer ") + kToken},
                                      {"Origin", "https://grafana.example.com.evil.example"}});
  ASSERT_TRUE(other);
  EXPECT_FALSE(other->has_header("Access-Control-Allow-Origin"));
  httplib::Result preflight = client_->Options(
      "/api/v1/alerts/1/ack",
      {{"Origin", "https://grafana.example.com"}, {"Access-Control-Request-Method", "POST"}});
  ASSERT_TRUE(preflight);
  EXPECT_EQ(preflight->status, 204);
  EXPECT_THAT(preflight->get_header_value("Access-Control-Allow-Headers"),
              HasSubstr("Authorization"));
  EXPECT_EQ(client_->Options("/api/v1/nope", httplib::Headers{})->status, 404);
}

// --- TLS ---------------------------------------------------------------------------------------

TEST_F(ServerTest, ServesTlsWithTheConfiguredCertificateAndRefusesABrokenPair) {
  const portwatch::testing::Pki& pki = portwatch::testing::TestPki();
  ASSERT_THAT(pki.problem, IsEmpty());
  ApiConfig config;
  config.tls_cert_file = pki.server_cert;
  config.tls_key_file = pki.server_key;
  StartServer(config);
  EXPECT_EQ(server_->url(), "https://127.0.0.1:" + std::to_string(server_->port()));

  httplib::SSLClient tls("127.0.0.1", server_->port());
  tls.set_ca_cert_path(pki.ca.c_str());
  tls.enable_server_certificate_verification(true);
  httplib::Result status =
      tls.Get("/api/v1/status", {{"Authorization", std::string("Bearer ") + kToken}});
  ASSERT_TRUE(status) << httplib::to_string(status.error());
  EXPECT_EQ(status->status, 200);
  EXPECT_EQ(status->get_header_value("Strict-Transport-Security"), "max-age=31536000");
  EXPECT_EQ(tls.Get("/api/v1/status")->status, 401);  // TLS is no substitute for the token

  httplib::Client plain("127.0.0.1", server_->port());
  plain.set_read_timeout(2, 0);
  httplib::Result cleartext = plain.Get("/healthz");
  EXPECT_TRUE(!cleartext || cleartext->status != 200) << "plain HTTP answered on the TLS port";

  ApiConfig mismatched = config;
  mismatched.tls_key_file = pki.wrong_name_key;  // not the certificate's key
  Result<std::unique_ptr<ApiServer>> broken =
      ApiServer::Start(mismatched, kToken, *live_, database());
  ASSERT_FALSE(broken.ok());
  EXPECT_THAT(broken.error().message, HasSubstr("key matches the certificate"));
  ApiConfig missing = config;
  missing.tls_cert_file = dir_.path() + "/missing.pem";
  EXPECT_FALSE(ApiServer::Start(missing, kToken, *live_, database()).ok());
}

// --- the agent's own routes --------------------------------------------------------------------

TEST_F(ServerTest, StatusSaysHowTheAgentIsDoing) {
  ASSERT_TRUE(store::InsertAlert(db(),
                                 [] {
                                   store::Alert alert;
                                   alert.subject = alert.fingerprint = "listener tcp/31337";
                                   alert.kind = 1;
                                   alert.severity = 4;
                                   alert.title = "nc listens on 31337";
                                   alert.reasons = "[]";
                                   alert.first_seen = alert.last_seen = 1;
                                   alert.first_evidence = alert.last_evidence = "{}";
                                   return alert;
                                 }())
                  .ok());
  const json status = GetJson("/api/v1/status");
  EXPECT_EQ(status["version"], "test");
  EXPECT_EQ(status["host"], "host");
  EXPECT_EQ(status["database"], database());
  EXPECT_EQ(status["interval_ms"], 1000);
  EXPECT_EQ(status["snapshots"], 1);
  EXPECT_GT(status["uptime_s"], 0);
  EXPECT_EQ(status["last_snapshot"]["sockets"], 5);
  EXPECT_EQ(status["last_snapshot"]["listeners"], 4);
  EXPECT_EQ(status["last_snapshot"]["duration_us"], 7000);
  EXPECT_EQ(status["last_snapshot"]["processes"], 4);  // postgres owns two
  EXPECT_GT(status["store"]["size_bytes"], 0);
  EXPECT_EQ(status["store"]["behind"], false);
  EXPECT_EQ(status["alerts"]["active"], 1);
  EXPECT_EQ(status["outbox"]["pending"], 0);
  EXPECT_EQ(status["outbox"]["failed"], 0);
}

TEST_F(ServerTest, RulesAndBaselineAreTheOnesInForce) {
  live_->SetRules(R"({"detectors":[{"name":"backdoor_port","enabled":true}]})",
                  R"({"listeners":[{"program":"sshd","port":22}]})");
  EXPECT_EQ(GetJson("/api/v1/rules")["detectors"][0]["name"], "backdoor_port");
  EXPECT_EQ(GetJson("/api/v1/baseline")["listeners"][0]["program"], "sshd");
}

// --- /metrics ----------------------------------------------------------------------------------

// Prometheus's text format, read strictly: each sample line is `name{labels} value`, and every
// metric's family is declared with # TYPE before its first sample.
struct Exposition {
  std::map<std::string, std::string> types;  // family -> counter, gauge, histogram
  std::map<std::string, double> samples;     // "name{labels}" -> value
  std::vector<std::string> problems;

  explicit Exposition(const std::string& text) {
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      if (line.starts_with("# TYPE ")) {
        std::istringstream words(line.substr(7));
        std::string name, type;
        words >> name >> type;
        types[name] = type;
        continue;
      }
      if (line.empty() || line.starts_with("# HELP ")) continue;
      const size_t space = line.rfind(' ');
      if (space == std::string::npos) {
        problems.push_back("no value: " + line);
        continue;
      }
      const std::string series = line.substr(0, space);
      const std::string name = series.substr(0, series.find('{'));
      std::string family = name;
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        if (!types.contains(family) && family.ends_with(suffix)) {
          family = family.substr(0, family.size() - std::string(suffix).size());
        }
      }
      if (!types.contains(family)) problems.push_back("no # TYPE before " + line);
      try {
        samples[series] = std::stod(line.substr(space + 1));
      } catch (const std::exception&) {
        problems.push_back("not a number: " + line);
      }
    }
  }
};

TEST_F(ServerTest, MetricsCountSocketsListenersAlertsAndTheOutboxForPrometheus) {
  // Two alerts open (one with two reasons), one delivery failed and one pending.
  int64_t first_event = 0;
  for (int i = 0; i < 2; ++i) {
    store::Alert alert;
    alert.subject = alert.fingerprint = "subject " + std::to_string(i);
    alert.kind = 1;
    alert.severity = i == 0 ? 5 : 3;
    alert.title = "t";
    alert.reasons = i == 0 ? R"([{"rule":"backdoor_port"},{"rule":"suspicious_exe"}])"
                           : R"([{"rule":"backdoor_port"}])";
    alert.first_seen = alert.last_seen = 1;
    alert.first_evidence = alert.last_evidence = "{}";
    const int64_t id = *store::InsertAlert(db(), alert);
    const int64_t event =
        *store::InsertAlertEvent(db(), {0, id, 1, store::AlertEventKind::kOpened, ""});
    if (i == 0) first_event = event;
  }
  ASSERT_TRUE(store::EnqueueDelivery(db(), first_event, "ops", 1).ok());
  ASSERT_TRUE(store::EnqueueDelivery(db(), first_event, "hook", 1).ok());
  const std::vector<store::Delivery> due = *store::DueDeliveries(db(), 2, 10);
  for (const store::Delivery& delivery : due) {
    if (delivery.target == "hook") {
      ASSERT_TRUE(store::RecordFailed(db(), delivery.id, 2, 410, "gone").ok());
    }
  }

  httplib::Result result = Get("/metrics");
  ASSERT_TRUE(result);
  ASSERT_EQ(result->status, 200);
  EXPECT_EQ(result->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  const Exposition metrics(result->body);
  EXPECT_THAT(metrics.problems, IsEmpty()) << result->body;
  const auto value = [&](const std::string& series) {
    const auto it = metrics.samples.find(series);
    EXPECT_NE(it, metrics.samples.end()) << "no " << series << " in\n" << result->body;
    return it == metrics.samples.end() ? -1.0 : it->second;
  };
  EXPECT_EQ(value("portwatch_sockets{protocol=\"tcp\",state=\"LISTEN\"}"), 3);
  EXPECT_EQ(value("portwatch_sockets{protocol=\"tcp\",state=\"ESTABLISHED\"}"), 1);
  EXPECT_EQ(value("portwatch_sockets{protocol=\"udp\",state=\"UNCONN\"}"), 1);
  EXPECT_EQ(value("portwatch_listeners{exposure=\"all\"}"), 2);
  EXPECT_EQ(value("portwatch_listeners{exposure=\"loopback\"}"), 1);
  EXPECT_EQ(value("portwatch_listeners{exposure=\"address\"}"), 1);
  EXPECT_EQ(value("portwatch_alerts_open{severity=\"critical\"}"), 1);
  EXPECT_EQ(value("portwatch_alerts_open{severity=\"medium\"}"), 1);
  EXPECT_EQ(value("portwatch_alerts_open{severity=\"low\"}"), 0);
  EXPECT_EQ(value("portwatch_alerts_open_by_rule{rule=\"backdoor_port\"}"), 2);
  EXPECT_EQ(value("portwatch_alerts_open_by_rule{rule=\"suspicious_exe\"}"), 1);
  EXPECT_EQ(value("portwatch_outbox_pending{target=\"ops\"}"), 1);
  EXPECT_EQ(value("portwatch_outbox_failed{target=\"hook\"}"), 1);
  EXPECT_EQ(value("portwatch_outbox_failed{target=\"ops\"}"), 0);
  EXPECT_GT(value("portwatch_store_size_bytes"), 0);
  EXPECT_EQ(value("portwatch_store_behind"), 0);
  // The snapshot took 7 ms: counted in every bucket from 0.01 s up, not in 0.005 s.
  EXPECT_EQ(metrics.types.at("portwatch_snapshot_duration_seconds"), "histogram");
  EXPECT_EQ(value("portwatch_snapshot_duration_seconds_bucket{le=\"0.005\"}"), 0);
  EXPECT_EQ(value("portwatch_snapshot_duration_seconds_bucket{le=\"0.01\"}"), 1);
  EXPECT_EQ(value("portwatch_snapshot_duration_seconds_bucket{le=\"+Inf\"}"), 1);
  EXPECT_EQ(value("portwatch_snapshot_duration_seconds_count"), 1);
  EXPECT_NEAR(value("portwatch_snapshot_duration_seconds_sum"), 0.007, 1e-9);
  EXPECT_EQ(value("portwatch_info{version=\"test\"}"), 1);
}

TEST_F(ServerTest, MetricLabelsAreEscapedAsTheFormatWants) {
  // A rule name with a quote, a backslash and a newline stays one well-formed label.
  store::Alert alert;
  alert.subject = alert.fingerprint = "s";
  alert.kind = 1;
  alert.severity = 3;
  alert.title = "t";
  alert.reasons = R"([{"rule":"odd\"rule\\with\nbreaks"}])";
  alert.first_seen = alert.last_seen = 1;
  alert.first_evidence = alert.last_evidence = "{}";
  ASSERT_TRUE(store::InsertAlert(db(), alert).ok());
  httplib::Result result = Get("/metrics");
  ASSERT_TRUE(result);
  EXPECT_THAT(result->body,
              HasSubstr("portwatch_alerts_open_by_rule{rule=\"odd\\\"rule\\\\with\\nbreaks\"} 1"));
  EXPECT_THAT(Exposition(result->body).problems, IsEmpty());
}

}  // namespace
}  // namespace portwatch::api
