#include "agent/replace_file.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace portwatch::agent {

Result<void> ReplaceFile(const std::string& path, std::string_view content) {
  const std::string temporary = fmt::format("{}.tmp.{}", path, getpid());
  {
    std::ofstream file(temporary, std::ios::trunc | std::ios::binary);
    file.write(content.data(), static_cast<std::streamsize>(content.size()));
    file.flush();
    if (!file) {
      const int saved = errno;
      std::remove(temporary.c_str());
      return Error{fmt::format("cannot write {}: {}", temporary, std::strerror(saved))};
    }
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    std::remove(temporary.c_str());
    return Error{fmt::format("cannot write {}: {}", path, std::strerror(saved))};
  }
  return Ok();
}

}  // namespace portwatch::agent
