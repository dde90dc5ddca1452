#include "agent/config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <set>

#include "agent/api_settings.h"
#include "agent/cli/size_argument.h"
#include "agent/yaml_reader.h"

namespace portwatch::agent {

Config DefaultConfig() { return Config{}; }

Result<Config> LoadConfig(const std::string& path) {
  Result<YAML::Node> loaded = LoadYamlFile(path, "config");
  if (!loaded) return loaded.error();
  const YAML::Node root = *loaded;
  Config config;
  config.source = path;
  if (root.IsNull()) return config;  // an empty file means the defaults
  Problems problems(path);
  if (!CheckKeys(root, "",
                 {"interval", "database", "log_level", "retention", "rules", "baseline", "alerts",
                  "events", "notify", "api"},
                 problems)) {
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
  if (const YAML::Node node = root["rules"]) {
    // One path or a list of paths (files, or directories of *.yaml files).
    const auto add = [&](const YAML::Node& item) {
      if (auto text = Scalar(item, "rules", "a rules file or directory path", problems)) {
        config.rules.push_back(*text);
      }
    };
    if (node.IsSequence()) {
      for (const YAML::Node& item : node) add(item);
    } else {
      add(node);
    }
  }
  if (const YAML::Node node = root["baseline"]) {
    if (CheckKeys(node, "baseline", {"path", "learn_for"}, problems)) {
      if (const YAML::Node file = node["path"]) {
        if (auto text = Scalar(file, "baseline.path", "a file path", problems)) {
          config.baseline = *text;
        }
      }
      if (const YAML::Node learn = node["learn_for"]) {
        ReadDuration(learn, "baseline.learn_for", config.learn_for, problems);
      }
    }
  }
  if (const YAML::Node node = root["alerts"]) {
    if (CheckKeys(node, "alerts", {"reopen_within", "resolve_after"}, problems)) {
      if (const YAML::Node within = node["reopen_within"]) {
        ReadDuration(within, "alerts.reopen_within", config.reopen_within, problems);
      }
      if (const YAML::Node after = node["resolve_after"]) {
        ReadDuration(after, "alerts.resolve_after", config.resolve_after, problems);
      }
    }
  }
  if (const YAML::Node node = root["events"]) {
    if (auto text = Scalar(node, "events", "a file path, or - for standard output", problems)) {
      config.events = *text;
    }
  }
  if (const YAML::Node node = root["api"]) ReadApiConfig(node, config.api, problems);
  if (const YAML::Node node = root["notify"])
    notify::ReadNotifyConfig(node, config.notify, problems);
  if (!problems.empty()) return Error{problems.Joined()};
  return config;
}

}  // namespace portwatch::agent
