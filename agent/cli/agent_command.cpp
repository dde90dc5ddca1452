// `portwatch agent`: the background agent — collect, record, run the rules and prune every
// interval, reload on SIGHUP, stop cleanly on SIGTERM or SIGINT.

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <memory>

#include "agent/cli/commands.h"
#include "agent/cli/exit_codes.h"
#include "agent/cli/state_paths.h"
#include "agent/config.h"
#include "agent/instance_lock.h"
#include "agent/loop.h"
#include "agent/replace_file.h"
#include "agent/rules/rules_loader.h"
#include "agent/signals.h"
#include "agent/version.h"
#include "api/live_state.h"
#include "api/server.h"
#include "api/token.h"
#include "store/history_writer.h"

namespace portwatch::agent {

namespace {

struct AgentFlags {
  std::string config;
  std::string db;
  std::string listen;
};

// Starts the API when it is enabled (nullptr when not), creating the token on first start, and
// writes its URL to api.address for the CLI.
Result<std::unique_ptr<api::ApiServer>> StartApi(const Config& config, api::LiveState& live) {
  if (!config.api.enabled) return std::unique_ptr<api::ApiServer>();
  std::string token;
  if (config.api.auth == api::Auth::kToken || config.api.metrics_auth == api::Auth::kToken) {
    Result<std::string> loaded =
        api::LoadOrCreateToken(ApiTokenPath(config.api.token_file, config.database));
    if (!loaded) return loaded.error();
    token = std::move(loaded).value();
  }
  Result<std::unique_ptr<api::ApiServer>> server =
      api::ApiServer::Start(config.api, std::move(token), live, config.database);
  if (!server) return server.error();
  if (Result<void> written =
          ReplaceFile(ApiAddressPath(config.database), fmt::format("{}\n", (*server)->url()));
      !written) {
    spdlog::warn("the CLI will not find the API: {}", written.error().message);
  }
  return server;
}

int RunAgent(const AgentFlags& flags) {
  Config config = DefaultConfig();
  if (!flags.config.empty()) {
    Result<Config> loaded = LoadConfig(flags.config);
    if (!loaded) {
      fmt::print(stderr, "portwatch agent: {}\n", loaded.error().message);
      return kExitUsage;
    }
    config = *loaded;
  }
  if (!flags.db.empty()) config.database = flags.db;
  if (!flags.listen.empty()) {
    config.api.enabled = true;
    Result<void> listen = api::ParseListen(flags.listen, config.api);
    if (listen) listen = api::CheckApiConfig(config.api);
    if (!listen) {
      fmt::print(stderr, "portwatch agent: --listen: {}\n", listen.error().message);
      return kExitUsage;
    }
  }
  if (config.database.empty()) config.database = DefaultDatabasePath();
  ApplyLogLevel(config.log_level);

  // Rules files are input like the config: a broken one is reported before anything starts.
  Result<std::vector<std::string>> rule_files = rules::ExpandRulePaths(config.rules);
  if (!rule_files) {
    fmt::print(stderr, "portwatch agent: {}\n", rule_files.error().message);
    return kExitUsage;
  }
  if (Result<rules::RuleSet> checked = rules::LoadRules(*rule_files); !checked) {
    fmt::print(stderr, "portwatch agent: {}\n", checked.error().message);
    return kExitUsage;
  }

  if (Result<void> made = EnsureParentDirectory(config.database); !made) {
    fmt::print(stderr, "portwatch agent: {}\n", made.error().message);
    return kExitFailure;
  }
  // The database is checked first, so nothing (not even a lock file) is left beside a file
  // that is not ours.
  Result<std::unique_ptr<Loop>> loop = Loop::Create(config, config.database, /*rules=*/true);
  if (!loop) {
    fmt::print(stderr, "portwatch agent: {}\n", loop.error().message);
    return kExitFailure;
  }
  Result<InstanceLock> lock = InstanceLock::Acquire(config.database);
  if (!lock) {
    fmt::print(stderr, "portwatch agent: {}\n", lock.error().message);
    return kExitFailure;
  }
  // Only the instance holding the lock sends notifications: a second agent started by mistake
  // must not send the outbox's due rows before the lock turns it away.
  if (Result<void> started = (*loop)->StartNotifications(); !started) {
    fmt::print(stderr, "portwatch agent: {}\n", started.error().message);
    return kExitFailure;
  }
  // The API: its state lives in `live`, which outlives the server's threads.
  api::LiveState live(api::AgentInfo{kVersion, notify::HostName(), config.database,
                                     store::ToMillis(std::chrono::system_clock::now())});
  Result<std::unique_ptr<api::ApiServer>> server = StartApi(config, live);
  if (!server) {
    fmt::print(stderr, "portwatch agent: {}\n", server.error().message);
    return kExitFailure;
  }
  (*loop)->Publish(live);
  spdlog::info("agent started: config from {}, history in {}, every {} ms", config.source,
               config.database, config.interval.count());

  // SIGHUP: a broken file keeps the running config and says why.
  const auto reload = [&flags]() -> std::optional<Config> {
    if (flags.config.empty()) {
      spdlog::info("reload requested; running on built-in defaults, nothing to reload");
      return std::nullopt;
    }
    Result<Config> fresh = LoadConfig(flags.config);
    if (!fresh) {
      spdlog::error("config not reloaded, keeping the running one: {}", fresh.error().message);
      return std::nullopt;
    }
    spdlog::info("config reloaded from {}", flags.config);
    return *fresh;
  };
  const LoopResult result = (*loop)->Run(InstallSignalHandlers(), std::nullopt, reload);
  if (*server) {
    (*server)->Stop();
    std::remove(ApiAddressPath(config.database).c_str());
  }
  loop->reset();  // its threads end before the lock goes, so no other agent overlaps them
  if (result.error) {
    spdlog::error("agent stopped: {}", result.error->message);
    return kExitFailure;
  }
  spdlog::info("agent stopped after {} intervals", result.intervals);
  return kExitOk;
}

}  // namespace

void AddAgentCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<AgentFlags>();
  CLI::App* command = app.add_subcommand(
      "agent", "Run the background agent: record socket history and raise alerts every interval");
  command->add_option("-c,--config", flags->config,
                      "YAML config file (default: built-in defaults)");
  command->add_option("--db", flags->db, "History database, overriding the config");
  command->add_option("--listen", flags->listen,
                      "API address as HOST:PORT, overriding api.listen (port 0: any free port; "
                      "the URL is written to api.address beside the database)");
  command->footer(
      "Signals: SIGHUP reloads the config, the rules and the baseline; SIGTERM and SIGINT stop "
      "the agent. See `portwatch alerts` for what it found.");
  command->callback([flags, &exit_code] { exit_code = RunAgent(*flags); });
}

}  // namespace portwatch::agent
