// `portwatch rules check FILE...`: whether rules files load, and what they hold.
//
// The files are checked together, as the agent loads them: lists are shared and rule ids must be
// unique across them. Every problem is one "FILE:LINE: message" line on stderr; so is every
// warning ("FILE:LINE: warning: message"), such as a process matched by a name it can choose,
// which does not change the exit status.

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/cli/commands.h"
#include "agent/cli/exit_codes.h"
#include "agent/rules/rules_loader.h"
#include "collectors/result.h"

namespace portwatch::agent {

namespace {

struct RulesCheckFlags {
  std::vector<std::string> files;
};

std::string Count(size_t count, std::string_view noun) {
  return fmt::format("{} {}{}", count, noun, count == 1 ? "" : "s");
}

int RunRulesCheck(const RulesCheckFlags& flags) {
  Result<std::vector<std::string>> files = rules::ExpandRulePaths(flags.files);
  if (!files) {
    fmt::print(stderr, "portwatch rules check: {}\n", files.error().message);
    return kExitUsage;
  }
  Result<rules::LoadedRules> loaded = rules::LoadRulesWithSummary(*files);
  if (!loaded) {
    fmt::print(stderr, "{}\n", loaded.error().message);
    return kExitUsage;
  }
  // Loaded, but weaker than it reads: on stderr, as problems are, and without failing.
  for (const std::string& warning : loaded->warnings) {
    const size_t colon = warning.find(": ");
    fmt::print(stderr, "{}: warning: {}\n", warning.substr(0, colon), warning.substr(colon + 2));
  }
  for (const rules::RulesFileSummary& file : loaded->files) {
    fmt::print("{}: {}, {}\n", file.path, Count(file.rules, "rule"), Count(file.lists, "list"));
  }
  const std::vector<rules::Rule>& all = loaded->rule_set.rules;
  const auto enabled =
      std::count_if(all.begin(), all.end(), [](const rules::Rule& rule) { return rule.enabled; });
  fmt::print("OK: {} ({} enabled) from {}\n", Count(all.size(), "rule"), enabled,
             Count(loaded->files.size(), "file"));
  return kExitOk;
}

}  // namespace

void AddRulesCommand(CLI::App& app, int& exit_code) {
  CLI::App* rules = app.add_subcommand("rules", "Work with rules files");
  rules->require_subcommand(1);
  auto flags = std::make_shared<RulesCheckFlags>();
  CLI::App* check = rules->add_subcommand(
      "check", "Check rules files as the agent would load them, and say what they hold");
  check
      ->add_option("files", flags->files,
                   "Rules files (YAML) or directories of them, checked together")
      ->required();
  check->footer(
      "Exit status: 0 when every file loads, 2 when a file is missing or has problems (each "
      "printed on stderr as FILE:LINE: message).");
  check->callback([flags, &exit_code] { exit_code = RunRulesCheck(*flags); });
}

}  // namespace portwatch::agent
