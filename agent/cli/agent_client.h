// AgentClient: the CLI's way to the running agent's REST API, found by itself — the URL the agent
// wrote to api.address and the token in api.token, both beside its database (or where the config
// says).
//
// For commands that ask the live agent rather than the database (`portwatch status`). One per
// command; not thread-safe.
#pragma once

#include <memory>
#include <string>

#include "agent/config.h"
#include "collectors/result.h"

namespace httplib {
class Client;
}

namespace portwatch::agent {

// The config a command acts on: the file's (defaults when `config_file` is empty), with `db`
// overriding its database and the default database filled in when neither names one.
Result<Config> CommandConfig(const std::string& config_file, const std::string& db);

class AgentClient {
 public:
  // Errors name what is missing and what to do: no agent serving this database, a token this user
  // cannot read. `ca_file` verifies an agent serving HTTPS with a private CA's certificate.
  static Result<AgentClient> Connect(const Config& config, const std::string& ca_file = "");
  AgentClient(AgentClient&&) noexcept;
  AgentClient& operator=(AgentClient&&) noexcept;
  ~AgentClient();

  // The body of a 200 answer to GET `path`; otherwise an error with the agent's own message.
  Result<std::string> Get(const std::string& path);
  const std::string& url() const { return url_; }

 private:
  AgentClient(std::string url, std::string token, std::unique_ptr<httplib::Client> client);
  std::string url_;
  std::string token_;
  std::unique_ptr<httplib::Client> client_;
};

}  // namespace portwatch::agent
