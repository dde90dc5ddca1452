// CommandErrors: a subcommand's one-line errors on stderr, with the exit status each stands for.
//
//   constexpr CommandErrors kErrors{"history"};
//   return kErrors.Usage("--since: '5x' is not a duration ...");   // "portwatch history: ...", 2
//   return kErrors.Failure(db.error().message);                     // 3
#pragma once

#include <fmt/format.h>

#include <cstdio>
#include <string_view>

#include "agent/cli/exit_codes.h"

namespace portwatch::agent {

class CommandErrors {
 public:
  constexpr explicit CommandErrors(std::string_view command) : command_(command) {}

  // Bad input: a flag, argument or value the user can fix.
  int Usage(std::string_view message) const { return Say(message, kExitUsage); }
  // The work itself failed.
  int Failure(std::string_view message) const { return Say(message, kExitFailure); }

 private:
  int Say(std::string_view message, int status) const {
    fmt::print(stderr, "portwatch {}: {}\n", command_, message);
    return status;
  }
  std::string_view command_;
};

}  // namespace portwatch::agent
