#include "agent/rules/rules_json.h"

#include <nlohmann/json.hpp>

#include "agent/rules/detectors/detectors.h"
#include "api/alert_json.h"

namespace portwatch::agent::rules {

using nlohmann::json;

std::string RulesJson(const RuleSet& rules) {
  json body = {{"files", rules.files}, {"detectors", json::array()}, {"rules", json::array()}};
  for (const std::unique_ptr<Detector>& detector : MakeDetectors(rules.detectors)) {
    const DetectorSettings& settings = detector->settings();
    body["detectors"].push_back({{"name", detector->name()},
                                 {"severity", SeverityName(settings.severity)},
                                 {"mitre", settings.mitre},
                                 {"exceptions", settings.exceptions.size()}});
  }
  for (const Rule& rule : rules.rules) {
    body["rules"].push_back({{"id", rule.id},
                             {"description", rule.description},
                             {"severity", SeverityName(rule.severity)},
                             {"mitre", rule.mitre},
                             {"enabled", rule.enabled},
                             {"source", rule.source},
                             {"exceptions", rule.exceptions.size()}});
  }
  return api::DumpJson(body);
}

std::string BaselineJson(const std::string& path, std::string_view state,
                         const std::optional<Baseline>& baseline) {
  json body = {{"path", path}, {"state", state}, {"entries", json::array()}};
  if (baseline) {
    for (const BaselineEntry& entry : baseline->entries()) {
      body["entries"].push_back(
          {{"program", entry.program.empty() ? json() : json(entry.program)},
           {"protocol", entry.protocol ? json(collectors::ProtocolName(*entry.protocol)) : json()},
           {"port", entry.port ? json(*entry.port) : json()},
           {"user", entry.user.empty() ? json() : json(entry.user)},
           {"exposure",
            entry.exposure ? json(collectors::ExposureName(*entry.exposure)) : json()}});
    }
  }
  return api::DumpJson(body);
}

}  // namespace portwatch::agent::rules
