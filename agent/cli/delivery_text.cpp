#include "agent/cli/delivery_text.h"

#include <fmt/format.h>

#include "agent/cli/time_argument.h"

namespace portwatch::agent {

namespace {

std::string Outcome(const store::Delivery& delivery) {
  const std::string attempts =
      fmt::format("{} attempt{}", delivery.attempts, delivery.attempts == 1 ? "" : "s");
  switch (delivery.status) {
    case store::DeliveryStatus::kDelivered:
      return fmt::format("{} at {}, HTTP {}", attempts,
                         FormatLocalTime(delivery.last_attempt_at.value_or(0)),
                         delivery.response_code.value_or(0));
    case store::DeliveryStatus::kPending:
      return fmt::format("{}, next at {}{}", attempts, FormatLocalTime(delivery.next_attempt_at),
                         delivery.last_error.empty() ? "" : ", last: " + delivery.last_error);
    case store::DeliveryStatus::kFailed:
      return fmt::format("{}, {}", attempts, delivery.last_error);
    case store::DeliveryStatus::kSkipped:
      return delivery.last_error;
  }
  return attempts;
}

}  // namespace

std::string DeliveryLine(const store::Delivery& delivery) {
  return fmt::format("{:>5}  {:<9}  {:<14}  alert {:<5} {:<10}  {}", delivery.id,
                     store::DeliveryStatusName(delivery.status), delivery.target, delivery.alert_id,
                     store::AlertEventKindName(delivery.event_kind), Outcome(delivery));
}

nlohmann::json DeliveryJson(const store::Delivery& delivery) {
  const auto time_or_null = [](const std::optional<int64_t>& at) {
    return at ? nlohmann::json(FormatLocalTime(*at)) : nlohmann::json();
  };
  return {{"id", delivery.id},
          {"target", delivery.target},
          {"status", store::DeliveryStatusName(delivery.status)},
          {"alert_id", delivery.alert_id},
          {"event_id", delivery.event_id},
          {"event", store::AlertEventKindName(delivery.event_kind)},
          {"queued_at", FormatLocalTime(delivery.created_at)},
          {"attempts", delivery.attempts},
          {"next_attempt_at", delivery.status == store::DeliveryStatus::kPending
                                  ? nlohmann::json(FormatLocalTime(delivery.next_attempt_at))
                                  : nlohmann::json()},
          {"last_attempt_at", time_or_null(delivery.last_attempt_at)},
          {"response_code",
           delivery.response_code ? nlohmann::json(*delivery.response_code) : nlohmann::json()},
          {"last_error", delivery.last_error}};
}

}  // namespace portwatch::agent
