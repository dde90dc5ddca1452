#include "agent/cli/delivery_text.h"

#include <fmt/format.h>

#include "collectors/time_text.h"
#include "collectors/untrusted_text.h"

namespace portwatch::agent {

namespace {

std::string Outcome(const store::Delivery& delivery) {
  const std::string attempts =
      fmt::format("{} attempt{}", delivery.attempts, delivery.attempts == 1 ? "" : "s");
  switch (delivery.status) {
    case store::DeliveryStatus::kDelivered:
      return fmt::format("{} at {}, HTTP {}", attempts,
                         collectors::FormatLocalTime(delivery.last_attempt_at.value_or(0)),
                         delivery.response_code.value_or(0));
    case store::DeliveryStatus::kPending:
      return fmt::format("{}, next at {}{}", attempts,
                         collectors::FormatLocalTime(delivery.next_attempt_at),
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
                     store::AlertEventKindName(delivery.event_kind),
                     collectors::EscapeUntrusted(Outcome(delivery)));
}

}  // namespace portwatch::agent
