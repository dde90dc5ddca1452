#include "agent/cli/state_paths.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string_view>

namespace portwatch::agent {

std::string DefaultStateDirectory() {
  // The service runs as its own user, not root: systemd tells it where its state lives.
  if (const char* service = std::getenv("STATE_DIRECTORY"); service && *service == '/') {
    const std::string_view directories(service);
    return std::string(directories.substr(0, directories.find(':')));
  }
  if (geteuid() == 0) return "/var/lib/portwatch";
  if (const char* state = std::getenv("XDG_STATE_HOME"); state && *state) {
    return std::string(state) + "/portwatch";
  }
  if (const char* home = std::getenv("HOME"); home && *home) {
    return std::string(home) + "/.local/state/portwatch";
  }
  return "portwatch-state";
}

std::string DefaultDatabasePath() { return DefaultStateDirectory() + "/history.db"; }

std::string ApiTokenPath(const std::string& token_file, const std::string& database) {
  if (!token_file.empty()) return token_file;
  return (std::filesystem::path(database).parent_path() / "api.token").string();
}

std::string ApiAddressPath(const std::string& database) {
  return (std::filesystem::path(database).parent_path() / "api.address").string();
}

Result<void> EnsureParentDirectory(const std::string& file) {
  const std::filesystem::path parent = std::filesystem::path(file).parent_path();
  if (parent.empty()) return Ok();
  std::error_code error;
  if (std::filesystem::is_directory(parent, error)) return Ok();
  std::filesystem::create_directories(parent, error);
  if (error) {
    return Error{fmt::format("cannot create {}: {}", parent.string(), error.message())};
  }
  std::filesystem::permissions(parent, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, error);
  return Ok();
}

}  // namespace portwatch::agent
