#include "api/token.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace portwatch::api {

namespace {

constexpr size_t kTokenBytes = 32;

bool IsToken(std::string_view text) {
  return text.size() == 2 * kTokenBytes &&
         text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

}  // namespace

Result<std::string> ReadToken(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) {
      return Error{fmt::format("no API token at {}: start the agent once to create it", path)};
    }
    return Error{fmt::format("cannot read the API token {}: {}", path, std::strerror(errno))};
  }
  struct stat info {};
  std::array<char, 2 * kTokenBytes + 2> buffer{};
  const bool stated = fstat(fd, &info) == 0;
  const ssize_t length = read(fd, buffer.data(), buffer.size());
  close(fd);
  if (!stated || length < 0) {
    return Error{fmt::format("cannot read the API token {}: {}", path, std::strerror(errno))};
  }
  if ((info.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return Error{fmt::format(
        "the API token {} can be read by other users; run chmod 600 {} (or delete it and "
        "restart the agent for a new one)",
        path, path)};
  }
  std::string_view text(buffer.data(), static_cast<size_t>(length));
  if (text.ends_with('\n')) text.remove_suffix(1);
  if (!IsToken(text)) {
    return Error{fmt::format(
        "{} does not hold an API token (64 hex digits); delete it and restart the agent for a "
        "new one",
        path)};
  }
  return std::string(text);
}

Result<std::string> LoadOrCreateToken(const std::string& path) {
  if (access(path.c_str(), F_OK) == 0) return ReadToken(path);
  std::array<unsigned char, kTokenBytes> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    return Error{"cannot make an API token: the system's random source failed"};
  }
  std::string token;
  for (unsigned char byte : bytes) token += fmt::format("{:02x}", byte);
  // Written to a private temporary file and linked into place, so a reader never sees half a
  // token and two agents starting at once end up with the same one.
  const std::string temporary = path + ".tmp." + std::to_string(getpid());
  const int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Error{
        fmt::format("cannot create the API token {}: {}", temporary, std::strerror(errno))};
  }
  const std::string line = token + "\n";
  const bool written =
      write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && fsync(fd) == 0;
  close(fd);
  const bool linked = written && link(temporary.c_str(), path.c_str()) == 0;
  const int saved_errno = errno;
  unlink(temporary.c_str());
  if (!linked) {
    if (written && saved_errno == EEXIST) return ReadToken(path);  // another agent won the race
    return Error{
        fmt::format("cannot create the API token {}: {}", path, std::strerror(saved_errno))};
  }
  return token;
}

bool TokensEqual(std::string_view given, std::string_view expected) {
  if (given.size() != expected.size() || expected.empty()) return false;
  return CRYPTO_memcmp(given.data(), expected.data(), expected.size()) == 0;
}

std::string_view BearerToken(std::string_view authorization) {
  constexpr std::string_view kScheme = "Bearer ";
  if (authorization.size() <= kScheme.size()) return {};
  for (size_t i = 0; i < kScheme.size(); ++i) {
    // The scheme is case-insensitive (RFC 9110 11.1).
    if (std::tolower(static_cast<unsigned char>(authorization[i])) !=
        std::tolower(static_cast<unsigned char>(kScheme[i]))) {
      return {};
    }
  }
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return token;
}

}  // namespace portwatch::api
