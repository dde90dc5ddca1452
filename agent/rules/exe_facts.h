// ExeFacts: what a process's executable is, rather than what it calls itself: the SHA-256 of the
// file it runs, and the Debian package that installed that file.
//
// Both are read through /proc/PID/exe, which opens the very file the process was started from,
// even after it was deleted or replaced on disk (a path would name the new file). Nothing is read
// until a rule condition asks (`sha256:` or `package:`), and then once per executable file:
//
// - Hashes are cached per file identity (device, inode, modification time in ns), taken from the
//   Process when the collector filled them in, else from stat(2) of /proc/PID/exe. One read gives
//   both the SHA-256 and the MD5 that dpkg records. Someone able to rewrite a binary in place and
//   put its mtime back (its owner, or root) keeps the old hash in the cache until the agent
//   restarts; a copy, a rename or a replaced file is a new inode and is hashed again.
// - The dpkg database: /var/lib/dpkg/info/*.list is indexed once (a 64-bit hash of each path and
//   its package, about 16 bytes a file), and again whenever that directory's modification time
//   or the status file beside it changes (dpkg renames a package's lists into it and rewrites
//   status on every install, upgrade and removal). An
//   executable belongs to a package when its path is listed by that package (with /usr-merge, the
//   path with or without its /usr prefix), and, when the package ships an md5sums file, when the
//   running file's MD5 is the one recorded there: a packaged binary modified after installation
//   belongs to no package.
//
// Thread-safe: one mutex guards the caches; a hash is computed under it, so a second caller
// waits rather than reading the same file twice.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "collectors/socket.h"

namespace portwatch::agent::rules {

class ExeFacts {
 public:
  struct Options {
    std::string proc = "/proc";
    std::string dpkg_info = "/var/lib/dpkg/info";
  };

  ExeFacts();
  explicit ExeFacts(Options options);
  ExeFacts(const ExeFacts&) = delete;
  ExeFacts& operator=(const ExeFacts&) = delete;

  // The lower-case hex SHA-256 of the file `process` runs; nullopt when it cannot be read (the
  // process is gone, or it is hidden from the agent).
  std::optional<std::string> Sha256(const collectors::Process& process);

  // The installed Debian package that owns the file `process` runs, unmodified; empty when none
  // does (not packaged, no dpkg here, modified since installation, or unreadable).
  std::string Package(const collectors::Process& process);

  // How many files were read and hashed so far (each costs a read of the whole executable).
  uint64_t files_hashed() const;

 private:
  using FileKey = std::tuple<uint64_t, uint64_t, int64_t>;  // device, inode, mtime ns
  struct Digests {
    std::string sha256;
    std::string md5;
  };

  struct InstalledPackage {
    std::string name;
    std::string list;  // its .list file
  };

  std::optional<FileKey> KeyOf(const collectors::Process& process) const;
  const Digests* DigestsOf(const collectors::Process& process);     // under mutex_
  void RefreshPackagesIfChanged();                                  // under mutex_
  std::optional<uint32_t> ListedBy(const std::string& path) const;  // the package's index
  bool SumMatches(uint32_t package, const std::string& path, const std::string& md5) const;

  Options options_;
  mutable std::mutex mutex_;
  std::map<FileKey, std::optional<Digests>> digests_;
  uint64_t files_hashed_ = 0;
  // dpkg: (hash of path, package index), sorted; the packages' names; the directory's mtime.
  std::vector<std::pair<uint64_t, uint32_t>> listed_;
  std::vector<InstalledPackage> packages_;
  using DpkgState = std::tuple<int64_t, uint64_t, int64_t>;  // info/ mtime, status inode, mtime
  std::optional<DpkgState> dpkg_state_;
  std::map<std::pair<FileKey, std::string>, std::string> owners_;  // (file, path) -> package
};

}  // namespace portwatch::agent::rules
