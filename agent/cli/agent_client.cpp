#include "agent/cli/agent_client.h"

#include <fmt/format.h>
#include <httplib.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "agent/cli/state_paths.h"
#include "api/token.h"

namespace portwatch::agent {

Result<Config> CommandConfig(const std::string& config_file, const std::string& db) {
  Config config = DefaultConfig();
  if (!config_file.empty()) {
    Result<Config> loaded = LoadConfig(config_file);
    if (!loaded) return loaded.error();
    config = *loaded;
  }
  if (!db.empty()) config.database = db;
  if (config.database.empty()) config.database = DefaultDatabasePath();
  return config;
}

Result<AgentClient> AgentClient::Connect(const Config& config, const std::string& ca_file) {
  const std::string address_path = ApiAddressPath(config.database);
  std::ifstream address(address_path);
  std::string url;
  std::getline(address, url);
  if (url.empty()) {
    return Error{fmt::format(
        "no agent is serving an API for {} (no {}): is `portwatch agent` running with this "
        "database and its API enabled? (--db and --config choose another)",
        config.database, address_path)};
  }
  std::string token;
  if (config.api.auth == api::Auth::kToken) {
    Result<std::string> read = api::ReadToken(ApiTokenPath(config.api.token_file, config.database));
    if (!read) return read.error();
    token = std::move(read).value();
  }
  auto client = std::make_unique<httplib::Client>(url);
  if (!client->is_valid()) {
    return Error{fmt::format("{} holds '{}', not an http:// or https:// URL", address_path, url)};
  }
  client->set_connection_timeout(2, 0);
  client->set_read_timeout(10, 0);
  if (url.starts_with("https://")) {
    client->enable_server_certificate_verification(true);
    if (!ca_file.empty()) client->set_ca_cert_path(ca_file.c_str());
  }
  return AgentClient(std::move(url), std::move(token), std::move(client));
}

AgentClient::AgentClient(std::string url, std::string token,
                         std::unique_ptr<httplib::Client> client)
    : url_(std::move(url)), token_(std::move(token)), client_(std::move(client)) {}
AgentClient::AgentClient(AgentClient&&) noexcept = default;
AgentClient& AgentClient::operator=(AgentClient&&) noexcept = default;
AgentClient::~AgentClient() = default;

Result<std::string> AgentClient::Get(const std::string& path) {
  httplib::Headers headers;
  if (!token_.empty()) headers.emplace("Authorization", "Bearer " + token_);
  httplib::Result answer = client_->Get(path.c_str(), headers);
  if (!answer) {
    return Error{fmt::format("the agent at {} does not answer ({}): is it still running?", url_,
                             httplib::to_string(answer.error()))};
  }
  if (answer->status != 200) {
    const nlohmann::json body = nlohmann::json::parse(answer->body, nullptr, false);
    const std::string why = body.is_object() ? body.value("error", answer->body) : answer->body;
    return Error{fmt::format("the agent at {} answered {}: {}", url_, answer->status, why)};
  }
  return std::move(answer->body);
}

}  // namespace portwatch::agent
