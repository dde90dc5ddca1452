// Where portwatch keeps its state when not told otherwise: /var/lib/portwatch as root (the
// service), else $XDG_STATE_HOME/portwatch or ~/.local/state/portwatch.
#pragma once

#include <string>

#include "collectors/result.h"

namespace portwatch::agent {

std::string DefaultStateDirectory();
std::string DefaultDatabasePath();  // <state directory>/history.db

// Creates the directory holding `file` (mode 0700) when it does not exist.
Result<void> EnsureParentDirectory(const std::string& file);

}  // namespace portwatch::agent
