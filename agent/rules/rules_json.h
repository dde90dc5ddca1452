// The rules and the baseline in force, as the API shows them (/api/v1/rules, /api/v1/baseline).
//
//   {"files":[…],"detectors":[{name, severity, mitre, exceptions}],
//    "rules":[{id, description, severity, mitre, enabled, source, exceptions}]}
//   {"path":…,"state":"loaded"|"learning"|"learned","entries":[{program, protocol, port, user,
//    exposure}]}
// Pure.
#pragma once

#include <optional>
#include <string>

#include "agent/rules/baseline.h"
#include "agent/rules/rule.h"

namespace portwatch::agent::rules {

std::string RulesJson(const RuleSet& rules);

// `state` says where the entries come from: "loaded" (the file), "learning" (being learned; the
// entries so far), "learned" (learned and saved).
std::string BaselineJson(const std::string& path, std::string_view state,
                         const std::optional<Baseline>& baseline);

}  // namespace portwatch::agent::rules
