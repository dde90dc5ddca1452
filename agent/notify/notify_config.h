// NotifyConfig: the `notify:` section of the agent's config — where alerts are sent, and how hard
// the outbox tries.
//
//   notify:
//     host: web-1                            # how messages name this machine (default: hostname)
//     dashboard_url: https://web-1.example:7678   # messages link to the alert there
//     max_age: 24h                           # undelivered this long: marked failed
//     retry: {initial: 1s, max: 5m}          # exponential backoff with jitter between attempts
//     targets:
//       - name: ops
//         type: slack
//         url_file: /etc/portwatch/secrets/slack-url
//
// Secrets (url, bot_token, hmac_key) come from `<key>_file` (the file's content, trailing
// whitespace cut) or `<key>_env` (an environment variable); only `url` may also be written inline.
// Each target is checked by MakeTarget at load, so a bad type, a missing URL or a broken template
// is reported with its file and line. Plain values; thread-compatible.
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <string>
#include <vector>

#include "agent/notify/target_config.h"
#include "agent/yaml_reader.h"

namespace portwatch::agent::notify {

struct NotifyConfig {
  std::vector<TargetConfig> targets;
  std::string host;  // empty: the machine's hostname
  std::string dashboard_url;
  std::chrono::milliseconds max_age{std::chrono::hours(24)};
  std::chrono::milliseconds retry_initial{std::chrono::seconds(1)};
  std::chrono::milliseconds retry_max{std::chrono::minutes(5)};
};

// Reads the `notify` mapping into `out`, adding a problem for every mistake.
void ReadNotifyConfig(const YAML::Node& node, NotifyConfig& out, Problems& problems);

// A rate such as "30/min", "2/s" or "100/h": the count and its period.
Result<std::pair<int, std::chrono::milliseconds>> ParseRate(std::string_view text);

// The machine's hostname, for messages; "localhost" when it cannot be read.
std::string HostName();

}  // namespace portwatch::agent::notify
