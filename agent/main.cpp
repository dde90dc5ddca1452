// portwatch: the command line entry point.

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdlib>
#include <exception>
#include <string>

#include "agent/cli/commands.h"
#include "agent/cli/exit_codes.h"
#include "agent/log_format.h"
#include "agent/version.h"

namespace {

void ConfigureLogging(int verbosity) {
  auto logger = spdlog::stderr_color_mt("portwatch");
  logger->set_formatter(portwatch::agent::StderrLogFormatter(
      portwatch::agent::IsJournalStream(STDERR_FILENO, std::getenv("JOURNAL_STREAM"))));
  spdlog::set_default_logger(logger);
  spdlog::set_level(verbosity >= 2   ? spdlog::level::debug
                    : verbosity == 1 ? spdlog::level::info
                                     : spdlog::level::warn);
}

// CLI11's own messages span several lines; users get one line naming the problem instead.
int ReportUsageError(const CLI::App& app, const CLI::ParseError& error) {
  std::string message = error.what();
  if (const size_t newline = message.find('\n'); newline != std::string::npos) {
    message.resize(newline);
  }
  if (app.get_subcommands().empty()) {
    std::string commands;
    for (const CLI::App* command : app.get_subcommands({})) {
      commands += (commands.empty() ? "" : ", ") + command->get_name();
    }
    message = "a command is required: " + commands;
    for (const std::string& word : app.remaining()) {
      if (!word.empty() && word[0] != '-') {
        message = fmt::format("unknown command '{}'; the commands are {}", word, commands);
        break;
      }
    }
  }
  fmt::print(stderr, "portwatch: {}; run '{} --help' for usage\n", message, app.get_name());
  return portwatch::agent::kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  // Output is often piped into head or grep: a closed pipe ends the write, not the process.
  std::signal(SIGPIPE, SIG_IGN);
  int exit_code = portwatch::agent::kExitOk;
  CLI::App app("portwatch: every socket on this host and the process that owns it", "portwatch");
  app.set_version_flag("-V,--version", std::string("portwatch ") + portwatch::agent::kVersion);
  int verbosity = 0;
  app.add_flag("-v,--verbose", verbosity, "More log output on stderr (-vv for debug)");
  app.require_subcommand(1);
  app.footer("Exit status: 0 success, 1 nothing found (who), 2 bad input, 3 failure.");
  portwatch::agent::AddAgentCommand(app, exit_code);
  portwatch::agent::AddSnapshotCommand(app, exit_code);
  portwatch::agent::AddWhoCommand(app, exit_code);
  portwatch::agent::AddRecordCommand(app, exit_code);
  portwatch::agent::AddHistoryCommand(app, exit_code);
  portwatch::agent::AddRulesCommand(app, exit_code);
  portwatch::agent::AddAlertsCommand(app, exit_code);
  portwatch::agent::AddBaselineCommand(app, exit_code);
  portwatch::agent::AddNotifyCommand(app, exit_code);
  portwatch::agent::AddTokenCommand(app, exit_code);
  portwatch::agent::AddStatusCommand(app, exit_code);
  try {
    app.parse_complete_callback([&verbosity] { ConfigureLogging(verbosity); });
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& help) {
    return app.exit(help);
  } catch (const CLI::CallForAllHelp& help) {
    return app.exit(help);
  } catch (const CLI::CallForVersion& version) {
    return app.exit(version);
  } catch (const CLI::ParseError& error) {
    return ReportUsageError(app, error);
  } catch (const std::exception& error) {
    fmt::print(stderr, "portwatch: internal error: {}\n", error.what());
    return portwatch::agent::kExitFailure;
  }
  return exit_code;
}
