// Exit statuses of the portwatch command, documented in the README and --help.
#pragma once

namespace portwatch::agent {

constexpr int kExitOk = 0;
constexpr int kExitNotFound = 1;  // `who`: nothing holds the port
constexpr int kExitUsage = 2;     // bad flag, argument or value
constexpr int kExitFailure = 3;   // the work itself failed (sockets could not be read, ...)

}  // namespace portwatch::agent
