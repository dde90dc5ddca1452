// The API server end to end: a real server on an ephemeral loopback port, a real database on a
// temporary file, real HTTP requests.
#include "api/server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include <memory>
#include <string>

#include "api/assets.h"
#include "api/live_state.h"
#include "store/database.h"
#include "tests/support/snapshot_builder.h"
#include "tests/support/temp_dir.h"

namespace portwatch::api {
namespace {

using collectors::SocketState;
using nlohmann::json;
using testing::Listener;
using testing::Proc;
using testing::SnapshotBuilder;
using testing::Tcp;

constexpr const char* kToken = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

class ApiServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    database_ = dir_.path() + "/history.db";
    ASSERT_TRUE(store::Database::Open(database_).ok());
    live_ = std::make_unique<LiveState>(AgentInfo{"test", "host", database_, 1});
    SnapshotBuilder builder(1'700'000'000'000);
    builder.Add(Listener(1, "0.0.0.0", 5432), Proc(10, 1, "postgres"));
    builder.Add(Listener(2, "127.0.0.1", 6379), Proc(11, 1, "redis-server"));
    builder.Add(Tcp(3, "10.0.0.1", 5432, "10.0.0.9", 40000, SocketState::kEstablished),
                Proc(10, 1, "postgres"));
    live_->PublishSnapshot(std::make_shared<const collectors::Snapshot>(builder.Build()));
    ApiConfig config;
    config.port = 0;
    Result<std::unique_ptr<ApiServer>> server = ApiServer::Start(config, kToken, *live_, database_);
    ASSERT_TRUE(server.ok()) << server.error().message;
    server_ = std::move(server).value();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
  }

  httplib::Result Get(const std::string& path, bool token = true) {
    httplib::Headers headers;
    if (token) headers.emplace("Authorization", std::string("Bearer ") + kToken);
    return client_->Get(path.c_str(), headers);
  }

  testing::TempDir dir_;
  std::string database_;
  std::unique_ptr<LiveState> live_;
  std::unique_ptr<ApiServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(ApiServerTest, RefusesApiRoutesWithoutTheRightToken) {
  httplib::Result none = Get("/api/v1/listeners", false);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_NE(json::parse(none->body).value("error", "").find("portwatch token"), std::string::npos);
  httplib::Headers wrong = {{"Authorization", "Bearer nottheone"}};
  httplib::Result bad = client_->Get("/api/v1/listeners", wrong);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 401);
  httplib::Result health = Get("/healthz", false);
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

TEST_F(ApiServerTest, ListsListenersByProgramWidestExposureFirst) {
  httplib::Result result = Get("/api/v1/listeners");
  ASSERT_TRUE(result);
  ASSERT_EQ(result->status, 200) << result->body;
  const json body = json::parse(result->body);
  ASSERT_EQ(body["programs"].size(), 2u);
  EXPECT_EQ(body["programs"][0]["program"], "postgres");
  EXPECT_EQ(body["programs"][0]["exposure"], "all");
  EXPECT_EQ(body["programs"][1]["program"], "redis-server");
  EXPECT_EQ(body["total"], 2);
  EXPECT_EQ(result->get_header_value("X-Content-Type-Options"), "nosniff");
}

TEST_F(ApiServerTest, SendsJsonUncompressedEvenToClientsThatTakeBrotli) {
  httplib::Result result =
      client_->Get("/api/v1/sockets", {{"Authorization", std::string("Bearer ") + kToken},
                                       {"Accept-Encoding", "gzip, deflate, br, zstd"}});
  ASSERT_TRUE(result);
  ASSERT_EQ(result->status, 200);
  EXPECT_EQ(result->get_header_value("Content-Encoding"), "");
  EXPECT_EQ(result->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(json::parse(result->body)["total"], 3);
}

TEST_F(ApiServerTest, FiltersSortsAndPagesSockets) {
  httplib::Result result = Get("/api/v1/sockets?port=5432&sort=-local_port&limit=1");
  ASSERT_TRUE(result);
  ASSERT_EQ(result->status, 200) << result->body;
  const json body = json::parse(result->body);
  EXPECT_EQ(body["total"], 2);
  EXPECT_EQ(body["sockets"].size(), 1u);
  EXPECT_EQ(body["next_offset"], 1);
  httplib::Result remote = Get("/api/v1/sockets?remote=10.0.0.0/24");
  ASSERT_TRUE(remote);
  EXPECT_EQ(json::parse(remote->body)["total"], 1);
}

TEST_F(ApiServerTest, AnswersBadInputWithAFourHundredThatNamesIt) {
  struct Case {
    std::string path;
    int status;
    std::string mentions;
  } cases[] = {
      {"/api/v1/sockets?limit=100000", 400, "limit"},
      {"/api/v1/sockets?colour=red", 400, "colour"},
      {"/api/v1/sockets?remote=10.0.0.1/8", 400, "remote"},
      {"/api/v1/sockets?sort=nope", 400, "sort"},
      {"/api/v1/ports/70000", 400, "port"},
      {"/api/v1/nothing", 404, "route"},
      {"/api/v1/history/state?at=soon", 400, "at"},
      {"/api/v1/alerts/abc", 400, "alert id"},
      {"/../../etc/passwd", 404, "route"},
  };
  for (const Case& c : cases) {
    httplib::Result result = Get(c.path);
    ASSERT_TRUE(result) << c.path;
    EXPECT_EQ(result->status, c.status) << c.path << ": " << result->body;
    EXPECT_NE(result->body.find(c.mentions), std::string::npos) << c.path << ": " << result->body;
  }
  httplib::Headers headers = {{"Authorization", std::string("Bearer ") + kToken}};
  httplib::Result post = client_->Post("/api/v1/listeners", headers, "{}", "application/json");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(post->get_header_value("Allow"), "GET");
  httplib::Result missing =
      client_->Post("/api/v1/alerts/99/ack", headers, "{}", "application/json");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
}

TEST_F(ApiServerTest, StatusCountsSocketsByProtocolStateAndListenersByExposure) {
  httplib::Result result = Get("/api/v1/status");
  ASSERT_TRUE(result);
  ASSERT_EQ(result->status, 200) << result->body;
  const json snapshot = json::parse(result->body)["last_snapshot"];
  EXPECT_EQ(snapshot["by_state"], json::parse(R"({"tcp": {"LISTEN": 2, "ESTABLISHED": 1}})"));
  EXPECT_EQ(snapshot["listeners_by_exposure"],
            json::parse(R"({"all": 1, "address": 0, "loopback": 1})"));
}

TEST_F(ApiServerTest, ServesPrometheusMetrics) {
  httplib::Result result = Get("/metrics");
  ASSERT_TRUE(result);
  ASSERT_EQ(result->status, 200);
  EXPECT_NE(result->body.find("portwatch_sockets{protocol=\"tcp\",state=\"LISTEN\"} 2"),
            std::string::npos)
      << result->body;
  EXPECT_NE(result->body.find("portwatch_listeners{exposure=\"all\"} 1"), std::string::npos);
  EXPECT_EQ(Get("/metrics", false)->status, 401);
}

// The dashboard: the page and its files from the embedded table with their types and ETags, 304
// on revalidation, 404 for anything else (traversal included), and no token for files that hold
// no data.
TEST_F(ApiServerTest, ServesTheDashboardAndItsFilesWithoutAToken) {
  httplib::Result page = client_->Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(page->body, FindAsset("index.html")->bytes);
  EXPECT_NE(page->get_header_value("Content-Security-Policy").find("script-src 'self'"),
            std::string::npos);
  EXPECT_EQ(page->get_header_value("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(page->get_header_value("Cache-Control"), "no-cache");
  EXPECT_EQ(page->get_header_value_count("Cache-Control"), 1u);

  for (const Asset& asset : DashboardAssets()) {
    const std::string path = "/assets/" + std::string(asset.path);
    httplib::Result file = client_->Get(path);
    ASSERT_TRUE(file) << path;
    EXPECT_EQ(file->status, 200) << path;
    EXPECT_EQ(file->get_header_value("Content-Type"), asset.content_type) << path;
    EXPECT_EQ(file->get_header_value("ETag"), asset.etag) << path;
    EXPECT_EQ(file->body, asset.bytes) << path;
  }
  // The data still wants the token.
  httplib::Result data = Get("/api/v1/status", false);
  ASSERT_TRUE(data);
  EXPECT_EQ(data->status, 401);
}

TEST_F(ApiServerTest, SendsDashboardFilesUncompressedAndRevalidatesThemWithNotModified) {
  const Asset& app = *FindAsset("app.js");
  httplib::Result same = client_->Get("/assets/app.js", {{"If-None-Match", std::string(app.etag)}});
  ASSERT_TRUE(same);
  EXPECT_EQ(same->status, 304);
  EXPECT_TRUE(same->body.empty());
  EXPECT_EQ(same->get_header_value("ETag"), app.etag);
  // As they are, even to a browser that takes brotli: compressing costs more than it saves here.
  httplib::Result plain = client_->Get("/assets/style.css", {{"Accept-Encoding", "br, gzip"}});
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->status, 200);
  EXPECT_EQ(plain->get_header_value("Content-Encoding"), "");
  EXPECT_EQ(plain->body, FindAsset("style.css")->bytes);
  httplib::Result changed = client_->Get("/assets/app.js", {{"If-None-Match", "\"old\""}});
  ASSERT_TRUE(changed);
  EXPECT_EQ(changed->status, 200);
  EXPECT_EQ(changed->body, app.bytes);
  httplib::Result head = client_->Head("/");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->get_header_value("ETag"), FindAsset("index.html")->etag);
}

TEST_F(ApiServerTest, NeverReadsAFileForAnUnknownAssetOrATraversal) {
  for (const char* path :
       {"/assets/nope.js", "/assets/", "/assets", "/index.html", "/assets/../../../etc/passwd",
        "/assets/%2e%2e/%2e%2e/etc/passwd", "/assets/..%2f..%2f..%2fetc%2fpasswd",
        "/assets/%2e%2e%2fapi/v1/status", "/assets/pages/../../../etc/passwd",
        "/assets//etc/passwd", "/assets/app.js/..", "/assets/i18n/../../../etc/shadow",
        "/%2e%2e/%2e%2e/etc/passwd", "/assets/app.js%00.png"}) {
    httplib::Result result = client_->Get(path);
    ASSERT_TRUE(result) << path;
    EXPECT_EQ(result->status, 404) << path << ": " << result->body;
    EXPECT_EQ(result->body.find("root:"), std::string::npos) << path;
    EXPECT_EQ(result->get_header_value("Content-Type"), "application/json") << path;
  }
  httplib::Result post = client_->Post("/assets/app.js", "x", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
}

TEST(ApiConfigCheck, RefusesAuthNoneBeyondLoopback) {
  ApiConfig config;
  config.host = "0.0.0.0";
  config.auth = Auth::kNone;
  EXPECT_FALSE(CheckApiConfig(config).ok());
  config.auth = Auth::kToken;
  EXPECT_FALSE(CheckApiConfig(config).ok());  // plain HTTP beyond loopback
  config.allow_plain_http = true;
  EXPECT_TRUE(CheckApiConfig(config).ok());
  config.host = "127.0.0.1";
  config.auth = Auth::kNone;
  EXPECT_TRUE(CheckApiConfig(config).ok());
}

}  // namespace
}  // namespace portwatch::api
