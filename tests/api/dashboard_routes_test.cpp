// The dashboard's routes and what the dashboard relies on, through a real server: the page and
// its files from the embedded table with their types and ETags, 304 on revalidation, 404 for
// anything else (traversal included), no token for files that hold no data; JSON never
// compressed; the status counts the overview draws.

#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include <string>

#include "api/assets.h"
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
using testing::kToken;

class DashboardRoutesTest : public testing::ApiFixture {
 protected:
  void SetUp() override {
    ApiFixture::SetUp();
    SnapshotBuilder builder(1'700'000'000'000);
    builder.Add(Listener(1, "0.0.0.0", 5432), Proc(10, 1, "postgres"));
    builder.Add(Listener(2, "127.0.0.1", 6379), Proc(11, 1, "redis-server"));
    builder.Add(Tcp(3, "10.0.0.1", 5432, "10.0.0.9", 40000, SocketState::kEstablished),
                Proc(10, 1, "postgres"));
    Publish(builder.Build());
  }
};

TEST_F(DashboardRoutesTest, SendsJsonUncompressedEvenToClientsThatTakeBrotli) {
  httplib::Result result =
      client_->Get("/api/v1/sockets", {{"Authorization", std::string("Bearer ") + kToken},
                                       {"Accept-Encoding", "gzip, deflate, br, zstd"}});
  ASSERT_TRUE(result);
  ASSERT_EQ(result->status, 200);
  EXPECT_EQ(result->get_header_value("Content-Encoding"), "");
  EXPECT_EQ(result->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(json::parse(result->body)["total"], 3);
}

TEST_F(DashboardRoutesTest, StatusCountsSocketsByProtocolStateAndListenersByExposure) {
  httplib::Result result = Get("/api/v1/status");
  ASSERT_TRUE(result);
  ASSERT_EQ(result->status, 200) << result->body;
  const json snapshot = json::parse(result->body)["last_snapshot"];
  EXPECT_EQ(snapshot["by_state"], json::parse(R"({"tcp": {"LISTEN": 2, "ESTABLISHED": 1}})"));
  EXPECT_EQ(snapshot["listeners_by_exposure"],
            json::parse(R"({"all": 1, "address": 0, "loopback": 1})"));
}

TEST_F(DashboardRoutesTest, ServesTheDashboardAndItsFilesWithoutAToken) {
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

TEST_F(DashboardRoutesTest, SendsDashboardFilesUncompressedAndRevalidatesThemWithNotModified) {
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

TEST_F(DashboardRoutesTest, NeverReadsAFileForAnUnknownAssetOrATraversal) {
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

}  // namespace
}  // namespace portwatch::api
