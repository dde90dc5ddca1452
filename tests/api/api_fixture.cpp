#include "tests/api/api_fixture.h"

namespace portwatch::api::testing {

using nlohmann::json;

void ApiFixture::SetUp() {
  database_ = dir_.path() + "/history.db";
  Result<store::Database> opened = store::Database::Open(database_);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  db_ = std::make_unique<store::Database>(std::move(opened).value());
  live_ = std::make_unique<LiveState>(AgentInfo{"test", "host", database_, 1'700'000'000'000});
  StartServer();
}

void ApiFixture::StartServer(ApiConfig config) {
  client_.reset();
  server_.reset();
  config.port = 0;
  Result<std::unique_ptr<ApiServer>> server = ApiServer::Start(config, kToken, *live_, database_);
  ASSERT_TRUE(server.ok()) << server.error().message;
  server_ = std::move(server).value();
  client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
  client_->set_read_timeout(10, 0);
}

void ApiFixture::Publish(collectors::Snapshot snapshot) {
  live_->PublishSnapshot(std::make_shared<const collectors::Snapshot>(std::move(snapshot)));
}

httplib::Result ApiFixture::Get(const std::string& path, bool token) {
  httplib::Headers headers;
  if (token) headers.emplace("Authorization", std::string("Bearer ") + kToken);
  return client_->Get(path.c_str(), headers);
}

httplib::Result ApiFixture::Post(const std::string& path, const std::string& body, bool token) {
  httplib::Headers headers;
  if (token) headers.emplace("Authorization", std::string("Bearer ") + kToken);
  return client_->Post(path.c_str(), headers, body, "application/json");
}

httplib::Result ApiFixture::Delete(const std::string& path, bool token) {
  httplib::Headers headers;
  if (token) headers.emplace("Authorization", std::string("Bearer ") + kToken);
  return client_->Delete(path.c_str(), headers);
}

json ApiFixture::GetJson(const std::string& path) {
  httplib::Result result = Get(path);
  EXPECT_TRUE(result) << path << ": " << httplib::to_string(result.error());
  if (!result) return nullptr;
  EXPECT_EQ(result->status, 200) << path << ": " << result->body;
  EXPECT_EQ(result->get_header_value("Content-Type"), "application/json") << path;
  json body = json::parse(result->body, nullptr, false);
  EXPECT_FALSE(body.is_discarded()) << path << ": not JSON: " << result->body;
  return result->status == 200 && !body.is_discarded() ? body : json();
}

std::string ApiFixture::ErrorOf(const httplib::Result& result, int status) {
  EXPECT_TRUE(result);
  if (!result) return "";
  EXPECT_EQ(result->status, status) << result->body;
  const json body = json::parse(result->body, nullptr, false);
  EXPECT_TRUE(body.is_object() && body.contains("error")) << result->body;
  if (!body.is_object()) return "";
  EXPECT_EQ(body.value("status", 0), status) << result->body;
  return body.value("error", "");
}

}  // namespace portwatch::api::testing
