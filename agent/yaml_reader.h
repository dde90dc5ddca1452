// Reading the YAML files people write (the agent's config, rules files) so that every mistake is
// reported at once, each as "FILE:LINE: message" naming the key, the value and the form expected.
//
// The pattern: load the file with LoadYamlFile, walk the document adding a line to a Problems for
// each mistake, and return Error{problems.Joined()} at the end if there were any. Nothing here
// throws: yaml-cpp's exceptions are caught in LoadYamlFile. Problems is a plain value;
// thread-compatible.
//
// yaml-cpp pitfalls the helpers avoid, for their callers to avoid too: a missing value (`key:`)
// has the position of whatever follows it, so report it at the key (LineOf, Problems::AddAt); a
// node looked up by a key that is not there has no position at all (LineOf gives 0); and
// assigning one YAML::Node to another that already refers to a node rewrites the document, so
// hold nodes in `const` variables and copy-construct them.
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collectors/result.h"

namespace portwatch::agent {

// The 1-based line where `node` starts, or 0 when it has no position in a file.
int LineOf(const YAML::Node& node);

// Collects problems as "FILE:LINE: message" so that one run reports them all.
class Problems {
 public:
  explicit Problems(std::string file) : file_(std::move(file)) {}

  // A problem with `node`, at the line where it starts.
  void Add(const YAML::Node& node, const std::string& message);
  // A problem at a 1-based line (0: no line known).
  void AddAt(int line, const std::string& message);

  bool empty() const { return lines_.empty(); }
  size_t size() const { return lines_.size(); }
  const std::string& file() const { return file_; }
  // "FILE:LINE", for a value that records where it was written.
  std::string Where(const YAML::Node& node) const;
  const std::vector<std::string>& lines() const { return lines_; }
  // Every problem, one per line, in the order they were added (or sorted).
  std::string Joined() const;
  // Orders the problems by line, keeping the order of those on the same line: for a reader who
  // walks the file from the top, when they were not found in that order.
  void SortByLine();

 private:
  std::string file_;
  std::vector<std::string> lines_;
  std::vector<int> line_numbers_;  // of each entry of lines_
};

// Reads and parses a YAML file. `what` names the file's role in the error ("config" gives "cannot
// read config FILE: ..."). A syntax error is "FILE:LINE: not valid YAML: ...". An empty file, or
// one holding only comments, is a null node.
Result<YAML::Node> LoadYamlFile(const std::string& path, std::string_view what);

// The text of a scalar; anything else adds "KEY: expected EXPECTED" and gives nullopt.
std::optional<std::string> Scalar(const YAML::Node& node, std::string_view key,
                                  std::string_view expected, Problems& problems);

// true/yes/on or false/no/off; anything else adds the problem and gives nullopt.
std::optional<bool> ReadBool(const YAML::Node& node, std::string_view key, Problems& problems);

// A duration such as "500ms" or "30d" (see collectors/time_text.h) into `out`; `out` is left as it
// was when the value is not one, and the problem is added.
void ReadDuration(const YAML::Node& node, std::string_view key, std::chrono::milliseconds& out,
                  Problems& problems);

// Whether `map` is a mapping; if it is, adds "unknown key 'K' in SECTION; known keys: ..." for each
// key not in `known` and returns true. `section` is empty for the top level of a file.
bool CheckKeys(const YAML::Node& map, std::string_view section, const std::set<std::string>& known,
               Problems& problems);

// Adds "duplicate key 'K' in SECTION; it is also at line N" for each key that `map` (a mapping)
// holds more than once: yaml-cpp keeps both, and a lookup would silently use the first.
void CheckDuplicateKeys(const YAML::Node& map, std::string_view section, Problems& problems);

}  // namespace portwatch::agent
