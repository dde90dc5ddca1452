// Config: the agent's settings, from YAML or the built-in defaults.
//
// LoadConfig reports every problem with the file, line and the form expected ("portwatch.yaml:7:
// interval: '5x' is not a duration; use ..."), and unknown keys are errors, so a typo never
// silently falls back to a default. A Config is a plain value.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "agent/notify/notify_config.h"
#include "api/api_config.h"
#include "collectors/result.h"
#include "store/retention.h"

namespace portwatch::agent {

struct Config {
  std::chrono::milliseconds interval{1000};
  std::string database;  // empty: the default path for this user
  std::string log_level = "info";
  store::RetentionPolicy retention;
  // Rules files, or directories whose *.yaml files are read in name order; the built-in
  // detectors run whatever this says.
  std::vector<std::string> rules;
  std::string baseline;  // empty: baseline.yaml beside the database
  // With no baseline file, learn the listeners present for this long after the start (0: the
  // first snapshot), then save them as the baseline.
  std::chrono::milliseconds learn_for{0};
  // An alert that resolves and comes back within this long reopens instead of starting anew.
  std::chrono::milliseconds reopen_within{std::chrono::minutes(10)};
  // An alert resolves only after its condition has been absent this long (0: at once).
  std::chrono::milliseconds resolve_after{std::chrono::seconds(5)};
  std::string events;  // JSON lines of listener and alert events: a file, "-" for stdout, or off
  api::ApiConfig api;  // the REST API, /metrics and the dashboard
  notify::NotifyConfig notify;               // no targets: alerts are stored and logged, not sent
  std::string source = "built-in defaults";  // where it came from, for log lines
};

Config DefaultConfig();

// Reads and checks a YAML config file. The errors, one per line, all name the file and line.
Result<Config> LoadConfig(const std::string& path);

}  // namespace portwatch::agent
