// Registration of the subcommands on the CLI11 application.
//
// Each Add*Command registers its flags and a callback that runs the command and stores its exit
// status in `exit_code`. Errors a user can fix are printed as one line on stderr.
#pragma once

#include <CLI/CLI.hpp>

namespace portwatch::agent {

void AddSnapshotCommand(CLI::App& app, int& exit_code);
void AddWhoCommand(CLI::App& app, int& exit_code);
void AddRecordCommand(CLI::App& app, int& exit_code);
void AddHistoryCommand(CLI::App& app, int& exit_code);
void AddAgentCommand(CLI::App& app, int& exit_code);
void AddRulesCommand(CLI::App& app, int& exit_code);
void AddAlertsCommand(CLI::App& app, int& exit_code);
void AddBaselineCommand(CLI::App& app, int& exit_code);
void AddNotifyCommand(CLI::App& app, int& exit_code);
void AddTokenCommand(CLI::App& app, int& exit_code);
void AddStatusCommand(CLI::App& app, int& exit_code);

}  // namespace portwatch::agent
