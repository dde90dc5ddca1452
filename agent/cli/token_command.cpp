// `portwatch token`: print the API token the agent created, for curl, scripts, Prometheus and the
// dashboard's login.

#include <fmt/format.h>

#include <memory>

#include "agent/cli/agent_client.h"
#include "agent/cli/command_errors.h"
#include "agent/cli/commands.h"
#include "agent/cli/state_paths.h"
#include "agent/config.h"
#include "api/token.h"

namespace portwatch::agent {

namespace {

struct TokenFlags {
  std::string config;
  std::string db;
};

constexpr CommandErrors kErrors{"token"};

int RunToken(const TokenFlags& flags) {
  Result<Config> config = CommandConfig(flags.config, flags.db);
  if (!config) return kErrors.Usage(config.error().message);
  Result<std::string> token =
      api::ReadToken(ApiTokenPath(config->api.token_file, config->database));
  if (!token) return kErrors.Failure(token.error().message);
  fmt::print("{}\n", *token);
  return kExitOk;
}

}  // namespace

void AddTokenCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<TokenFlags>();
  CLI::App* command =
      app.add_subcommand("token", "Print the API token (send it as 'Authorization: Bearer TOKEN')");
  command->add_option("-c,--config", flags->config, "The agent's config file");
  command->add_option(
      "--db", flags->db,
      "The agent's database; the token is beside it (default: " + DefaultDatabasePath() + ")");
  command->footer(
      "The agent creates the token on first start, readable only by its user: run this as that "
      "user (or root).");
  command->callback([flags, &exit_code] { exit_code = RunToken(*flags); });
}

}  // namespace portwatch::agent
