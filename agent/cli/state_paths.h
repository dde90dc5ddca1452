// Where portwatch keeps its state when not told otherwise: the service's $STATE_DIRECTORY (set by
// systemd's StateDirectory=; its first entry when it lists several), else /var/lib/portwatch as
// root, else $XDG_STATE_HOME/portwatch or ~/.local/state/portwatch.
#pragma once

#include <string>

#include "collectors/result.h"

namespace portwatch::agent {

std::string DefaultStateDirectory();
std::string DefaultDatabasePath();  // <state directory>/history.db

// The API token file: `token_file` when set, else api.token beside the database.
std::string ApiTokenPath(const std::string& token_file, const std::string& database);
// Where a running agent writes its API's URL (api.address beside the database), for the CLI.
std::string ApiAddressPath(const std::string& database);

// Creates the directory holding `file` (mode 0700) when it does not exist.
Result<void> EnsureParentDirectory(const std::string& file);

}  // namespace portwatch::agent
