#include "agent/yaml_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <numeric>

#include "collectors/time_text.h"

namespace portwatch::agent {

int LineOf(const YAML::Node& node) {
  if (!node.IsDefined()) return 0;  // Mark() throws for a node looked up by a missing key
  const int line = node.Mark().line;
  return line >= 0 ? line + 1 : 0;
}

void Problems::Add(const YAML::Node& node, const std::string& message) {
  AddAt(LineOf(node), message);
}

void Problems::AddAt(int line, const std::string& message) {
  lines_.push_back(fmt::format("{}:{}: {}", file_, line, message));
  line_numbers_.push_back(line);
}

std::string Problems::Where(const YAML::Node& node) const {
  return fmt::format("{}:{}", file_, LineOf(node));
}

std::string Problems::Joined() const { return fmt::format("{}", fmt::join(lines_, "\n")); }

void Problems::SortByLine() {
  std::vector<size_t> order(lines_.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [this](size_t a, size_t b) { return line_numbers_[a] < line_numbers_[b]; });
  std::vector<std::string> lines;
  std::vector<int> line_numbers;
  for (const size_t index : order) {
    lines.push_back(std::move(lines_[index]));
    line_numbers.push_back(line_numbers_[index]);
  }
  lines_ = std::move(lines);
  line_numbers_ = std::move(line_numbers);
}

Result<YAML::Node> LoadYamlFile(const std::string& path, std::string_view what) {
  std::error_code not_found;
  if (std::filesystem::is_directory(path, not_found)) {
    return Error{fmt::format("cannot read {} {}: it is a directory, not a file", what, path)};
  }
  try {
    return YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return Error{fmt::format("cannot read {} {}: no such file or not readable", what, path)};
  } catch (const YAML::ParserException& error) {
    return Error{fmt::format("{}:{}: not valid YAML: {}", path, error.mark.line + 1, error.msg)};
  }
}

std::optional<std::string> Scalar(const YAML::Node& node, std::string_view key,
                                  std::string_view expected, Problems& problems) {
  if (!node.IsScalar()) {
    problems.Add(node, fmt::format("{}: expected {}", key, expected));
    return std::nullopt;
  }
  return node.Scalar();
}

std::optional<bool> ReadBool(const YAML::Node& node, std::string_view key, Problems& problems) {
  const std::optional<std::string> text = Scalar(node, key, "true or false", problems);
  if (!text) return std::nullopt;
  if (*text == "true" || *text == "yes" || *text == "on") return true;
  if (*text == "false" || *text == "no" || *text == "off") return false;
  problems.Add(node, fmt::format("{}: '{}' is not true or false", key, *text));
  return std::nullopt;
}

void ReadDuration(const YAML::Node& node, std::string_view key, std::chrono::milliseconds& out,
                  Problems& problems) {
  std::optional<std::string> text = Scalar(node, key, "a duration such as 1s or 30d", problems);
  if (!text) return;
  Result<int64_t> parsed = collectors::ParseDuration(*text);
  if (!parsed) {
    problems.Add(node, fmt::format("{}: {}", key, parsed.error().message));
    return;
  }
  out = std::chrono::milliseconds(*parsed);
}

bool CheckKeys(const YAML::Node& map, std::string_view section, const std::set<std::string>& known,
               Problems& problems) {
  if (!map.IsMap()) {
    problems.Add(map, fmt::format("{}: expected a mapping of keys to values", section));
    return false;
  }
  for (const auto& entry : map) {
    const std::string key = entry.first.Scalar();
    if (!known.contains(key)) {
      problems.Add(entry.first, fmt::format("unknown key '{}'{}; known keys: {}", key,
                                            section.empty() ? "" : fmt::format(" in {}", section),
                                            fmt::join(known, ", ")));
    }
  }
  return true;
}

void CheckDuplicateKeys(const YAML::Node& map, std::string_view section, Problems& problems) {
  if (!map.IsMap()) return;
  std::map<std::string, int> first_line;
  for (const auto& entry : map) {
    const std::string key = entry.first.Scalar();
    const auto [seen, inserted] = first_line.emplace(key, LineOf(entry.first));
    if (!inserted) {
      problems.Add(entry.first, fmt::format("duplicate key '{}'{}; it is also at line {}", key,
                                            section.empty() ? "" : fmt::format(" in {}", section),
                                            seen->second));
    }
  }
}

}  // namespace portwatch::agent
