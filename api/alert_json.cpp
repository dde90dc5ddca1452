#include "api/alert_json.h"

#include "collectors/time_text.h"
#include "store/alert_kinds.h"

namespace portwatch::api {

namespace {

using nlohmann::json;

json ParsedOrNull(const std::string& text) {
  json parsed = json::parse(text, nullptr, false);
  return parsed.is_discarded() ? json() : parsed;
}

json TimeOrNull(const std::optional<int64_t>& at) {
  return at ? json(collectors::FormatIsoTime(*at)) : json();
}

}  // namespace

json AlertToJson(const store::Alert& alert) {
  return {
      {"id", alert.id},
      {"fingerprint", alert.fingerprint},
      {"subject", alert.subject},
      {"kind", store::SubjectKindName(alert.kind)},
      {"severity", store::SeverityName(alert.severity)},
      {"status", store::AlertStatusName(alert.status)},
      {"title", alert.title},
      {"reasons", ParsedOrNull(alert.reasons)},
      {"count", alert.count},
      {"first_seen", collectors::FormatIsoTime(alert.first_seen)},
      {"last_seen", collectors::FormatIsoTime(alert.last_seen)},
      {"resolved_at", TimeOrNull(alert.resolved_at)},
      {"silenced_until", TimeOrNull(alert.silenced_until)},
      {"accepted", alert.accepted},
      {"first_evidence", ParsedOrNull(alert.first_evidence)},
      {"last_evidence", ParsedOrNull(alert.last_evidence)},
  };
}

std::string AlertJson(const store::Alert& alert) { return DumpJson(AlertToJson(alert)); }

json AcceptanceToJson(const store::Acceptance& acceptance) {
  return {{"id", acceptance.id},
          {"subject", acceptance.subject},
          {"rule", acceptance.rule},
          {"severity", store::SeverityName(acceptance.severity)},
          {"exe", acceptance.exe},
          {"exe_device", acceptance.exe_device},
          {"exe_inode", acceptance.exe_inode},
          {"exe_mtime_ns", acceptance.exe_mtime_ns},
          {"accepted_at", collectors::FormatIsoTime(acceptance.accepted_at)},
          {"alert_id", acceptance.alert_id ? json(*acceptance.alert_id) : json()}};
}

json AlertEventToJson(const store::AlertEvent& event) {
  return {{"at", collectors::FormatIsoTime(event.at)},
          {"event", store::AlertEventKindName(event.kind)},
          {"detail", event.detail}};
}

json DeliveryToJson(const store::Delivery& delivery) {
  const bool pending = delivery.status == store::DeliveryStatus::kPending;
  return {{"id", delivery.id},
          {"target", delivery.target},
          {"status", store::DeliveryStatusName(delivery.status)},
          {"alert_id", delivery.alert_id},
          {"event_id", delivery.event_id},
          {"event", store::AlertEventKindName(delivery.event_kind)},
          {"queued_at", collectors::FormatIsoTime(delivery.created_at)},
          {"attempts", delivery.attempts},
          {"next_attempt_at",
           pending ? json(collectors::FormatIsoTime(delivery.next_attempt_at)) : json()},
          {"last_attempt_at", TimeOrNull(delivery.last_attempt_at)},
          {"response_code", delivery.response_code ? json(*delivery.response_code) : json()},
          {"last_error", delivery.last_error}};
}

std::string DumpJson(const json& value, int indent) {
  return value.dump(indent, ' ', false, json::error_handler_t::replace);
}

}  // namespace portwatch::api
