// TempDir: a fresh directory under $TMPDIR, removed with everything in it on destruction.
#pragma once

#include <string>

namespace portwatch::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // Writes a file (creating parent directories) and returns its path.
  std::string WriteFile(const std::string& relative, const std::string& content) const;
  // Creates a symlink relative -> target (parents created) and returns its path.
  std::string Symlink(const std::string& relative, const std::string& target) const;
  std::string MakeDir(const std::string& relative) const;

 private:
  std::string path_;
};

}  // namespace portwatch::testing
