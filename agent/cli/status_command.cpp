// `portwatch status`: how the running agent is doing — its version and uptime, its last snapshot,
// active alerts, the store and the outbox — asked of the agent's API, which the command finds by
// itself.

#include <fmt/format.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "agent/cli/agent_client.h"
#include "agent/cli/command_errors.h"
#include "agent/cli/commands.h"
#include "agent/cli/state_paths.h"

namespace portwatch::agent {

namespace {

struct StatusFlags {
  std::string config;
  std::string db;
  std::string ca_file;
  bool json = false;
};

constexpr CommandErrors kErrors{"status"};

std::string Duration(int64_t seconds) {
  if (seconds < 60) return fmt::format("{} s", seconds);
  if (seconds < 3600) return fmt::format("{} min", seconds / 60);
  if (seconds < 86400) return fmt::format("{} h {} min", seconds / 3600, seconds % 3600 / 60);
  return fmt::format("{} d {} h", seconds / 86400, seconds % 86400 / 3600);
}

std::string Bytes(double bytes) {
  if (bytes < 1024 * 1024) return fmt::format("{:.0f} KiB", bytes / 1024);
  if (bytes < 1024.0 * 1024 * 1024) return fmt::format("{:.1f} MiB", bytes / 1024 / 1024);
  return fmt::format("{:.2f} GiB", bytes / 1024 / 1024 / 1024);
}

// A number the agent may leave null (the store could not be read).
std::string Count(const nlohmann::json& value) {
  return value.is_number() ? std::to_string(value.get<int64_t>()) : std::string("?");
}

int RunStatus(const StatusFlags& flags) {
  Result<Config> config = CommandConfig(flags.config, flags.db);
  if (!config) return kErrors.Usage(config.error().message);
  Result<AgentClient> client = AgentClient::Connect(*config, flags.ca_file);
  if (!client) return kErrors.Failure(client.error().message);
  Result<std::string> body = client->Get("/api/v1/status");
  if (!body) return kErrors.Failure(body.error().message);
  if (flags.json) {
    fmt::print("{}", *body);
    return kExitOk;
  }
  const nlohmann::json status = nlohmann::json::parse(*body, nullptr, false);
  if (!status.is_object()) return kErrors.Failure("the agent's status is not a JSON object");
  fmt::print("portwatch agent {} on {}, up {}, API at {}\n", status.value("version", "?"),
             status.value("host", "?"), Duration(status.value("uptime_s", int64_t{0})),
             client->url());
  const nlohmann::json& last = status["last_snapshot"];
  if (last.is_object()) {
    fmt::print(
        "last snapshot: {} ({:.1f} s ago, every {} ms), {} sockets, {} listeners, {} "
        "processes, taken in {:.1f} ms\n",
        last.value("taken_at", "?"), last.value("age_ms", 0.0) / 1000,
        status.value("interval_ms", 0), last.value("sockets", 0), last.value("listeners", 0),
        last.value("processes", 0), last.value("duration_us", 0.0) / 1000);
  } else {
    fmt::print("last snapshot: none yet\n");
  }
  fmt::print("alerts: {} active (portwatch alerts --open)\n", Count(status["alerts"]["active"]));
  fmt::print("store: {}, {}{}\n", status.value("database", "?"),
             Bytes(status["store"].value("size_bytes", 0.0)),
             status["store"].value("behind", false) ? ", BEHIND: the last write failed" : "");
  fmt::print("outbox: {} pending, {} failed{}\n", Count(status["outbox"]["pending"]),
             Count(status["outbox"]["failed"]),
             status["outbox"].value("failed", 0) > 0 ? " (portwatch notify status)" : "");
  return kExitOk;
}

}  // namespace

void AddStatusCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<StatusFlags>();
  CLI::App* command = app.add_subcommand(
      "status", "Ask the running agent how it is doing: last snapshot, alerts, store, outbox");
  command->add_option("-c,--config", flags->config, "The agent's config file");
  command->add_option("--db", flags->db,
                      "The agent's database; its API address and token are beside it (default: " +
                          DefaultDatabasePath() + ")");
  command->add_option("--ca-file", flags->ca_file,
                      "PEM CA certificate that signed the agent's API certificate (HTTPS)");
  command->add_flag("--json", flags->json, "Print the agent's status as JSON");
  command->footer(
      "Exit status: 0 the agent answered; 3 no agent is running for this database, or it cannot "
      "be reached or read. Run as the agent's user (or root) to read its token.");
  command->callback([flags, &exit_code] { exit_code = RunStatus(*flags); });
}

}  // namespace portwatch::agent
