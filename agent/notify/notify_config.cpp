#include "agent/notify/notify_config.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "agent/notify/target.h"
#include "agent/rules/rule.h"
#include "collectors/parse_number.h"

namespace portwatch::agent::notify {

namespace {

// Reads secret `key` of a target from `key`, `key_file` or `key_env`, whichever is set (only one
// may be). The problems name the key and the file or variable, never the secret.
std::optional<std::string> ReadSecret(const YAML::Node& target, const std::string& section,
                                      const std::string& key, bool allow_inline,
                                      Problems& problems) {
  const std::string file_key = key + "_file";
  const std::string env_key = key + "_env";
  const YAML::Node inline_node = target[key];
  const YAML::Node file_node = target[file_key];
  const YAML::Node env_node = target[env_key];
  const int set = (inline_node ? 1 : 0) + (file_node ? 1 : 0) + (env_node ? 1 : 0);
  if (set == 0) return std::nullopt;
  if (set > 1) {
    problems.Add(target, fmt::format("{}: set only one of {}, {} and {}", section,
                                     allow_inline ? key : file_key, file_key, env_key));
    return std::nullopt;
  }
  if (inline_node) {
    if (!allow_inline) {
      problems.Add(inline_node, fmt::format("{}.{}: a secret is not written in the config; use {} "
                                            "(a file readable only by portwatch) or {}",
                                            section, key, file_key, env_key));
      return std::nullopt;
    }
    return Scalar(inline_node, fmt::format("{}.{}", section, key), "a URL", problems);
  }
  if (file_node) {
    const std::optional<std::string> path =
        Scalar(file_node, fmt::format("{}.{}", section, file_key), "a file path", problems);
    if (!path) return std::nullopt;
    std::ifstream in(*path, std::ios::binary);
    if (!in) {
      problems.Add(file_node, fmt::format("{}.{}: cannot read {}: {}", section, file_key, *path,
                                          std::strerror(errno)));
      return std::nullopt;
    }
    std::ostringstream content;
    content << in.rdbuf();
    std::string secret = content.str();
    while (!secret.empty() && std::isspace(static_cast<unsigned char>(secret.back()))) {
      secret.pop_back();
    }
    if (secret.empty()) {
      problems.Add(file_node, fmt::format("{}.{}: {} is empty", section, file_key, *path));
      return std::nullopt;
    }
    return secret;
  }
  const std::optional<std::string> name =
      Scalar(env_node, fmt::format("{}.{}", section, env_key), "an environment variable", problems);
  if (!name) return std::nullopt;
  const char* value = std::getenv(name->c_str());
  if (value == nullptr || *value == '\0') {
    problems.Add(env_node, fmt::format("{}.{}: the environment variable {} is not set", section,
                                       env_key, *name));
    return std::nullopt;
  }
  return std::string(value);
}

void ReadTarget(const YAML::Node& node, size_t index, NotifyConfig& out, Problems& problems) {
  const std::string section = fmt::format("notify.targets[{}]", index);
  if (!CheckKeys(node, section,
                 {"name", "type", "url", "url_file", "url_env", "bot_token_file", "bot_token_env",
                  "chat_id", "hmac_key_file", "hmac_key_env", "min_severity", "rules",
                  "send_resolved", "rate_limit", "template", "ca_file", "timeout", "resend_every"},
                 problems)) {
    return;
  }
  CheckDuplicateKeys(node, section, problems);
  const size_t problems_before = problems.size();
  TargetConfig target;
  target.source = problems.Where(node);
  if (const YAML::Node name = node["name"]) {
    if (auto text = Scalar(name, section + ".name", "a name", problems)) target.name = *text;
  } else {
    problems.Add(node, fmt::format("{}: no name; every target needs one (notify test NAME uses it)",
                                   section));
  }
  if (const YAML::Node type = node["type"]) {
    if (auto text = Scalar(type, section + ".type", "a target type", problems)) target.type = *text;
  } else {
    problems.Add(node, fmt::format("{}: no type; use one of {}", section, TargetTypeNames()));
  }
  if (auto url = ReadSecret(node, section, "url", true, problems)) target.url = *url;
  if (auto token = ReadSecret(node, section, "bot_token", false, problems)) {
    target.bot_token = *token;
  }
  if (auto key = ReadSecret(node, section, "hmac_key", false, problems)) target.hmac_key = *key;
  if (const YAML::Node chat = node["chat_id"]) {
    if (auto text = Scalar(chat, section + ".chat_id", "a Telegram chat id", problems)) {
      target.chat_id = *text;
    }
  }
  if (const YAML::Node severity = node["min_severity"]) {
    const std::string key = section + ".min_severity";
    if (auto text = Scalar(severity, key, "info, low, medium, high or critical", problems)) {
      if (auto parsed = rules::ParseSeverity(*text)) {
        target.min_severity = static_cast<int>(*parsed);
      } else {
        problems.Add(severity, fmt::format("{}: '{}' is not a severity; use info, low, medium, "
                                           "high or critical",
                                           key, *text));
      }
    }
  }
  if (const YAML::Node rule_list = node["rules"]) {
    const auto add = [&](const YAML::Node& item) {
      if (auto text = Scalar(item, section + ".rules", "a rule name", problems)) {
        target.rules.push_back(*text);
      }
    };
    if (rule_list.IsSequence()) {
      for (const YAML::Node& item : rule_list) add(item);
    } else {
      add(rule_list);
    }
  }
  if (const YAML::Node resolved = node["send_resolved"]) {
    if (auto value = ReadBool(resolved, section + ".send_resolved", problems)) {
      target.send_resolved = *value;
    }
  }
  if (const YAML::Node rate = node["rate_limit"]) {
    const std::string key = section + ".rate_limit";
    if (auto text = Scalar(rate, key, "a rate such as 30/min", problems)) {
      Result<std::pair<int, std::chrono::milliseconds>> parsed = ParseRate(*text);
      if (parsed) {
        target.rate_limit = parsed->first;
        target.rate_period = parsed->second;
      } else {
        problems.Add(rate, fmt::format("{}: {}", key, parsed.error().message));
      }
    }
  }
  if (const YAML::Node text = node["template"]) {
    if (auto value = Scalar(text, section + ".template", "a message template", problems)) {
      target.template_text = *value;
    }
  }
  if (const YAML::Node ca = node["ca_file"]) {
    if (auto path = Scalar(ca, section + ".ca_file", "a PEM file path", problems)) {
      if (access(path->c_str(), R_OK) != 0) {
        problems.Add(ca, fmt::format("{}.ca_file: cannot read {}: {}", section, *path,
                                     std::strerror(errno)));
      }
      target.ca_file = *path;
    }
  }
  if (const YAML::Node timeout = node["timeout"]) {
    ReadDuration(timeout, section + ".timeout", target.timeout, problems);
    if (target.timeout < std::chrono::milliseconds(100)) {
      problems.Add(timeout, fmt::format("{}.timeout: must be at least 100ms", section));
    }
  }
  if (const YAML::Node resend = node["resend_every"]) {
    ReadDuration(resend, section + ".resend_every", target.resend_every, problems);
    if (target.resend_every < std::chrono::seconds(1)) {
      problems.Add(resend, fmt::format("{}.resend_every: must be at least 1s", section));
    }
  }
  for (const TargetConfig& other : out.targets) {
    if (!target.name.empty() && other.name == target.name) {
      problems.Add(node["name"], fmt::format("{}: the name '{}' is already used at {}", section,
                                             target.name, other.source));
    }
  }
  // The checks that need the whole target (type known, URL present, template valid), once the
  // keys themselves read cleanly.
  if (problems.size() == problems_before) {
    Result<std::unique_ptr<Target>> made = MakeTarget(target);
    if (!made) problems.Add(node, made.error().message);
  }
  out.targets.push_back(std::move(target));
}

}  // namespace

Result<std::pair<int, std::chrono::milliseconds>> ParseRate(std::string_view text) {
  const size_t slash = text.find('/');
  const std::string_view count_text = text.substr(0, slash);
  const std::string_view unit = slash == std::string_view::npos ? "min" : text.substr(slash + 1);
  int64_t count = 0;
  const bool counted = collectors::ParseNumber(count_text, count);
  std::chrono::milliseconds period{0};
  if (unit == "s" || unit == "sec" || unit == "second") {
    period = std::chrono::seconds(1);
  } else if (unit == "m" || unit == "min" || unit == "minute") {
    period = std::chrono::minutes(1);
  } else if (unit == "h" || unit == "hour") {
    period = std::chrono::hours(1);
  }
  if (!counted || count < 1 || count > 100000 || period.count() == 0) {
    return Error{
        fmt::format("'{}' is not a rate; use a count per second, minute or hour, such as "
                    "30/min",
                    text)};
  }
  return std::pair<int, std::chrono::milliseconds>(static_cast<int>(count), period);
}

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

void ReadNotifyConfig(const YAML::Node& node, NotifyConfig& out, Problems& problems) {
  if (!CheckKeys(node, "notify", {"host", "dashboard_url", "max_age", "retry", "targets"},
                 problems)) {
    return;
  }
  CheckDuplicateKeys(node, "notify", problems);
  if (const YAML::Node host = node["host"]) {
    if (auto text = Scalar(host, "notify.host", "a host name", problems)) out.host = *text;
  }
  if (const YAML::Node url = node["dashboard_url"]) {
    if (auto text = Scalar(url, "notify.dashboard_url", "a URL", problems)) {
      if (text->starts_with("http://") || text->starts_with("https://")) {
        out.dashboard_url = *text;
      } else {
        problems.Add(url, fmt::format("notify.dashboard_url: '{}' must start with http:// or "
                                      "https://",
                                      *text));
      }
    }
  }
  if (const YAML::Node age = node["max_age"]) {
    ReadDuration(age, "notify.max_age", out.max_age, problems);
    if (out.max_age < std::chrono::minutes(1)) {
      problems.Add(age,
                   "notify.max_age: must be at least 1m (undelivered alerts are given up then)");
    }
  }
  if (const YAML::Node retry = node["retry"]) {
    if (CheckKeys(retry, "notify.retry", {"initial", "max"}, problems)) {
      if (const YAML::Node initial = retry["initial"]) {
        ReadDuration(initial, "notify.retry.initial", out.retry_initial, problems);
      }
      if (const YAML::Node max = retry["max"]) {
        ReadDuration(max, "notify.retry.max", out.retry_max, problems);
      }
      if (out.retry_initial.count() <= 0 || out.retry_max < out.retry_initial) {
        problems.Add(retry, "notify.retry: initial must be above zero and max at least initial");
      }
    }
  }
  if (const YAML::Node targets = node["targets"]) {
    if (!targets.IsSequence()) {
      problems.Add(targets, "notify.targets: expected a list of targets (- name: ... type: ...)");
      return;
    }
    size_t index = 0;
    for (const YAML::Node& target : targets) ReadTarget(target, index++, out, problems);
  }
}

}  // namespace portwatch::agent::notify
