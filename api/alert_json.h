// The JSON forms of alerts, their events, their deliveries and acceptances: one shape wherever
// portwatch prints them (the REST API, `portwatch alerts --json`, the events log, the generic
// webhook).
//
// Times are ISO 8601 in UTC with milliseconds ("2026-11-25T13:05:01.123Z"); a reason list and the
// evidence, stored as JSON, are embedded as JSON (null when unreadable). Pure functions.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "store/alerts.h"
#include "store/deliveries.h"

namespace portwatch::api {

// Keys: id, fingerprint, subject, kind, severity, status, title, reasons, count, first_seen,
// last_seen, resolved_at, silenced_until, accepted, first_evidence, last_evidence.
nlohmann::json AlertToJson(const store::Alert& alert);
// The same object as compact text; invalid UTF-8 from the host becomes U+FFFD.
std::string AlertJson(const store::Alert& alert);

// Keys: at, event, detail.
nlohmann::json AlertEventToJson(const store::AlertEvent& event);

// Keys: id, target, status, alert_id, event_id, event, queued_at, attempts, next_attempt_at (while
// pending), last_attempt_at, response_code, last_error.
nlohmann::json DeliveryToJson(const store::Delivery& delivery);

// Keys: id, subject, rule, severity (the highest accepted), exe, exe_device, exe_inode,
// exe_mtime_ns (0: not compared), accepted_at, alert_id (null once the alert is deleted).
nlohmann::json AcceptanceToJson(const store::Acceptance& acceptance);

// A JSON document as text, replacing invalid UTF-8 instead of throwing.
std::string DumpJson(const nlohmann::json& json, int indent = -1);

}  // namespace portwatch::api
