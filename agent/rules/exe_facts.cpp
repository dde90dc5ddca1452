#include "agent/rules/exe_facts.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string_view>

namespace portwatch::agent::rules {

namespace {

// Bounds the caches on a host that runs many different binaries over time.
constexpr size_t kMaxCached = 4096;

uint64_t PathHash(std::string_view path) { return std::hash<std::string_view>()(path); }

std::string Hex(const unsigned char* bytes, unsigned int size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text;
  text.reserve(size * 2);
  for (unsigned int i = 0; i < size; ++i) {
    text += kDigits[bytes[i] >> 4];
    text += kDigits[bytes[i] & 0xf];
  }
  return text;
}

struct DigestContextFree {
  void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
};
using DigestContext = std::unique_ptr<EVP_MD_CTX, DigestContextFree>;

struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) close(fd);
  }
};

// The paths dpkg may have recorded for `path`: itself, and with /usr-merge its twin with or
// without the /usr prefix (/usr/bin/x was installed as /bin/x by older packages, and back).
std::vector<std::string> DpkgSpellings(const std::string& path) {
  std::vector<std::string> spellings{path};
  for (const std::string_view top : {"/bin/", "/sbin/", "/lib/", "/lib64/", "/libx32/"}) {
    if (path.starts_with(top)) spellings.push_back("/usr" + path);
    if (path.starts_with(std::string("/usr") + std::string(top))) {
      spellings.push_back(path.substr(4));
    }
  }
  return spellings;
}

int64_t MtimeNs(const struct stat& status) {
  return static_cast<int64_t>(status.st_mtim.tv_sec) * 1'000'000'000 + status.st_mtim.tv_nsec;
}

}  // namespace

ExeFacts::ExeFacts() : ExeFacts(Options{}) {}

ExeFacts::ExeFacts(Options options) : options_(std::move(options)) {}

uint64_t ExeFacts::files_hashed() const {
  std::lock_guard lock(mutex_);
  return files_hashed_;
}

std::optional<ExeFacts::FileKey> ExeFacts::KeyOf(const collectors::Process& process) const {
  if (process.exe_inode != 0) {
    return FileKey{process.exe_device, process.exe_inode, process.exe_mtime_ns};
  }
  // Not filled in by the collector: stat through the link, as it would.
  struct stat status {};
  const std::string link = options_.proc + "/" + std::to_string(process.pid) + "/exe";
  if (stat(link.c_str(), &status) != 0) return std::nullopt;
  return FileKey{static_cast<uint64_t>(status.st_dev), static_cast<uint64_t>(status.st_ino),
                 MtimeNs(status)};
}

const ExeFacts::Digests* ExeFacts::DigestsOf(const collectors::Process& process) {
  const std::optional<FileKey> key = KeyOf(process);
  if (!key) return nullptr;
  const auto cached = digests_.find(*key);
  if (cached != digests_.end()) return cached->second ? &*cached->second : nullptr;
  if (digests_.size() >= kMaxCached) digests_.clear();

  std::optional<Digests> digests;
  const std::string link = options_.proc + "/" + std::to_string(process.pid) + "/exe";
  const FdCloser file{open(link.c_str(), O_RDONLY | O_CLOEXEC)};
  struct stat status {};
  // The file opened must be the one the key names: an execve between stat and open is not
  // hashed under the old key.
  if (file.fd >= 0 && fstat(file.fd, &status) == 0 &&
      FileKey{static_cast<uint64_t>(status.st_dev), static_cast<uint64_t>(status.st_ino),
              MtimeNs(status)} == *key) {
    DigestContext sha(EVP_MD_CTX_new());
    DigestContext md5(EVP_MD_CTX_new());
    bool ok = sha && md5 && EVP_DigestInit_ex(sha.get(), EVP_sha256(), nullptr) == 1 &&
              EVP_DigestInit_ex(md5.get(), EVP_md5(), nullptr) == 1;
    std::array<unsigned char, 64 * 1024> buffer{};
    while (ok) {
      const ssize_t got = read(file.fd, buffer.data(), buffer.size());
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) ok = false;
      if (got <= 0) break;
      ok = EVP_DigestUpdate(sha.get(), buffer.data(), static_cast<size_t>(got)) == 1 &&
           EVP_DigestUpdate(md5.get(), buffer.data(), static_cast<size_t>(got)) == 1;
    }
    std::array<unsigned char, EVP_MAX_MD_SIZE> sha_out{};
    std::array<unsigned char, EVP_MAX_MD_SIZE> md5_out{};
    unsigned int sha_size = 0;
    unsigned int md5_size = 0;
    if (ok && EVP_DigestFinal_ex(sha.get(), sha_out.data(), &sha_size) == 1 &&
        EVP_DigestFinal_ex(md5.get(), md5_out.data(), &md5_size) == 1) {
      digests = Digests{Hex(sha_out.data(), sha_size), Hex(md5_out.data(), md5_size)};
      ++files_hashed_;
    }
  }
  if (!digests) return nullptr;  // not cached: the process may just have been unreadable
  return &*digests_.emplace(*key, std::move(digests)).first->second;
}

std::optional<std::string> ExeFacts::Sha256(const collectors::Process& process) {
  std::lock_guard lock(mutex_);
  const Digests* digests = DigestsOf(process);
  if (digests == nullptr) return std::nullopt;
  return digests->sha256;
}

void ExeFacts::RefreshPackagesIfChanged() {
  // dpkg renames lists into info/ and rewrites ../status (a new inode) on every operation; both
  // are looked at, since a directory's mtime has the file system's coarse clock granularity.
  struct stat info {};
  if (stat(options_.dpkg_info.c_str(), &info) != 0) {
    listed_.clear();
    packages_.clear();
    owners_.clear();
    dpkg_state_.reset();
    return;
  }
  struct stat status {};
  const std::string status_path =
      std::filesystem::path(options_.dpkg_info).parent_path().string() + "/status";
  const bool has_status = stat(status_path.c_str(), &status) == 0;
  const DpkgState state{MtimeNs(info), has_status ? static_cast<uint64_t>(status.st_ino) : 0,
                        has_status ? MtimeNs(status) : 0};
  if (dpkg_state_ == state) return;
  dpkg_state_ = state;
  listed_.clear();
  packages_.clear();
  owners_.clear();
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(options_.dpkg_info, error)) {
    const std::filesystem::path& path = entry.path();
    if (path.extension() != ".list") continue;
    // "openssh-server.list", or "libc6:amd64.list" for a Multi-Arch package.
    std::string name = path.stem().string();
    name = name.substr(0, name.find(':'));
    const auto index = static_cast<uint32_t>(packages_.size());
    packages_.push_back({std::move(name), path.string()});
    std::ifstream list(path);
    for (std::string line; std::getline(list, line);) {
      if (!line.empty() && line[0] == '/') listed_.emplace_back(PathHash(line), index);
    }
  }
  std::sort(listed_.begin(), listed_.end());
}

std::optional<uint32_t> ExeFacts::ListedBy(const std::string& path) const {
  const uint64_t hash = PathHash(path);
  auto it =
      std::lower_bound(listed_.begin(), listed_.end(), std::pair<uint64_t, uint32_t>{hash, 0});
  for (; it != listed_.end() && it->first == hash; ++it) {
    // A hash is not proof: the package's own list must hold the path.
    std::ifstream list(packages_[it->second].list);
    for (std::string line; std::getline(list, line);) {
      if (line == path) return it->second;
    }
  }
  return std::nullopt;
}

bool ExeFacts::SumMatches(uint32_t package, const std::string& path, const std::string& md5) const {
  // "openssh-server.md5sums" beside "openssh-server.list"; files named without their leading
  // '/': "d41d8c...  usr/sbin/sshd". A package without md5sums (a few have none), or whose sums
  // leave the file out (made by a maintainer script), vouches for the path alone.
  std::filesystem::path sums_path(packages_[package].list);
  sums_path.replace_extension(".md5sums");
  std::ifstream sums(sums_path);
  const std::string_view relative = std::string_view(path).substr(1);
  for (std::string line; std::getline(sums, line);) {
    const size_t space = line.find("  ");
    if (space == std::string::npos) continue;
    if (std::string_view(line).substr(space + 2) == relative) return line.substr(0, space) == md5;
  }
  return true;
}

std::string ExeFacts::Package(const collectors::Process& process) {
  if (process.exe.empty() || process.exe_deleted) return {};
  std::lock_guard lock(mutex_);
  RefreshPackagesIfChanged();
  if (listed_.empty()) return {};
  const std::optional<FileKey> key = KeyOf(process);
  if (!key) return {};
  const auto cached = owners_.find({*key, process.exe});
  if (cached != owners_.end()) return cached->second;
  if (owners_.size() >= kMaxCached) owners_.clear();

  std::string owner;
  for (const std::string& spelling : DpkgSpellings(process.exe)) {
    const std::optional<uint32_t> package = ListedBy(spelling);
    if (!package) continue;
    const Digests* digests = DigestsOf(process);
    if (digests != nullptr && SumMatches(*package, spelling, digests->md5)) {
      owner = packages_[*package].name;
    }
    break;
  }
  owners_.emplace(std::pair{*key, process.exe}, owner);
  return owner;
}

}  // namespace portwatch::agent::rules
