#include "agent/config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <set>

#include "agent/cli/size_argument.h"
#include "agent/cli/time_argument.h"

namespace portwatch::agent {

namespace {

// Collects problems as "FILE:LINE: message" so one run reports them all.
class Problems {
 public:
  explicit Problems(std::string file) : file_(std::move(file)) {}
  void Add(const YAML::Node& node, const std::string& message) {
    const int line = node.Mark().line >= 0 ? node.Mark().line + 1 : 0;
    lines_.push_back(fmt::format("{}:{}: {}", file_, line, message));
  }
  bool empty() const { return lines_.empty(); }
  std::string Joined() const { return fmt::format("{}", fmt::join(lines_, "\n")); }

 private:
  std::string file_;
  std::vector<std::string> lines_;
};

std::optional<std::string> Scalar(const YAML::Node& node, std::string_view key,
                                  std::string_view expected, Problems& problems) {
  if (!node.IsScalar()) {
    problems.Add(node, fmt::format("{}: expected {}", key, expected));
    return std::nullopt;
  }
  return node.Scalar();
}

void ReadDuration(const YAML::Node& node, std::string_view key, std::chrono::milliseconds& out,
                  Problems& problems) {
  std::optional<std::string> text = Scalar(node, key, "a duration such as 1s or 30d", problems);
  if (!text) return;
  Result<int64_t> parsed = ParseDuration(*text);
  if (!parsed) {
    problems.Add(node, fmt::format("{}: {}", key, parsed.error().message));
    return;
  }
  out = std::chrono::milliseconds(*parsed);
}

// Every key of `map` must be in `known`.
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

}  // namespace

Config DefaultConfig() { return Config{}; }

Result<Config> LoadConfig(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return Error{fmt::format("cannot read config {}: no such file or not readable", path)};
  } catch (const YAML::ParserException& error) {
    return Error{fmt::format("{}:{}: not valid YAML: {}", path, error.mark.line + 1, error.msg)};
  }
  Config config;
  config.source = path;
  if (root.IsNull()) return config;  // an empty file means the defaults
  Problems problems(path);
  if (!CheckKeys(root, "", {"interval", "database", "log_level", "retention"}, problems)) {
    return Error{problems.Joined()};
  }
  if (const YAML::Node node = root["interval"]) {
    ReadDuration(node, "interval", config.interval, problems);
    if (config.interval < std::chrono::milliseconds(100)) {
      problems.Add(node, "interval: must be at least 100ms");
    }
  }
  if (const YAML::Node node = root["database"]) {
    if (auto text = Scalar(node, "database", "a file path", problems)) config.database = *text;
  }
  if (const YAML::Node node = root["log_level"]) {
    static const std::set<std::string> kLevels = {"trace", "debug", "info", "warn", "error"};
    if (auto text = Scalar(node, "log_level", "one of trace, debug, info, warn, error", problems)) {
      if (kLevels.contains(*text)) {
        config.log_level = *text;
      } else {
        problems.Add(node, fmt::format("log_level: '{}' is not a level; use one of {}", *text,
                                       fmt::join(kLevels, ", ")));
      }
    }
  }
  if (const YAML::Node node = root["retention"]) {
    if (CheckKeys(node, "retention", {"max_age", "max_size"}, problems)) {
      if (const YAML::Node age = node["max_age"]) {
        ReadDuration(age, "retention.max_age", config.retention.max_age, problems);
      }
      if (const YAML::Node size = node["max_size"]) {
        if (auto text = Scalar(size, "retention.max_size", "a size such as 1G", problems)) {
          Result<uint64_t> bytes = ParseByteSize(*text);
          if (bytes) {
            config.retention.max_bytes = *bytes;
          } else {
            problems.Add(size, fmt::format("retention.max_size: {}", bytes.error().message));
          }
        }
      }
    }
  }
  if (!problems.empty()) return Error{problems.Joined()};
  return config;
}

}  // namespace portwatch::agent
