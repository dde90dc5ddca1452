#include "agent/notify/outbox.h"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "store/deliveries.h"

namespace portwatch::agent::notify {

namespace {

bool HasReasonFrom(const store::Alert& alert, const std::vector<std::string>& rules) {
  const nlohmann::json reasons = nlohmann::json::parse(alert.reasons, nullptr, false);
  if (!reasons.is_array()) return false;
  return std::any_of(reasons.begin(), reasons.end(), [&](const nlohmann::json& reason) {
    const auto rule = reason.find("rule");
    return rule != reason.end() && rule->is_string() &&
           std::find(rules.begin(), rules.end(), rule->get<std::string>()) != rules.end();
  });
}

}  // namespace

bool Takes(const TargetConfig& target, const store::Alert& alert, store::AlertEventKind event,
           int64_t now) {
  switch (event) {
    case store::AlertEventKind::kOpened:
    case store::AlertEventKind::kReopened:
    case store::AlertEventKind::kEscalated:
      break;
    case store::AlertEventKind::kResolved:
      if (!target.send_resolved) return false;
      break;
    default:
      return false;  // the operator's own actions are not announced
  }
  if (alert.accepted) return false;
  if (alert.silenced_until && *alert.silenced_until > now) return false;
  if (alert.severity < target.min_severity) return false;
  return target.rules.empty() || HasReasonFrom(alert, target.rules);
}

Result<int> Outbox::Enqueue(store::Database& db, int64_t event_id, const store::Alert& alert,
                            store::AlertEventKind event, int64_t now) const {
  int queued = 0;
  for (const TargetConfig& target : targets_) {
    if (!Takes(target, alert, event, now)) continue;
    if (Result<void> enqueued = store::EnqueueDelivery(db, event_id, target.name, now); !enqueued) {
      return enqueued.error();
    }
    ++queued;
  }
  return queued;
}

}  // namespace portwatch::agent::notify
