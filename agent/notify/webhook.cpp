// A generic JSON webhook, for receivers of the user's own (a SOAR, a ticketing bridge, a script).
//
// POST <url>, Content-Type: application/json, with the body
//   {"version": 1,                    // bumped only when a field changes meaning or goes away
//    "host": "web-1",
//    "event": {"id": 99, "kind": "opened", "at": "2025-11-25T13:05:01.123Z"},
//    "alert": {...},                  // the alert as `portwatch alerts --json` prints it
//    "message": "[HIGH] opened on web-1: ...",   // the headline, or the target's template
//    "link": "https://.../#/alerts/7",           // null without a dashboard URL
//    "test": false}                   // true for `portwatch notify test`
// and the headers
//   Idempotency-Key: <host>:<event id>   the same for every retry of one delivery, so a receiver
//                                        can drop the duplicates a retry after a timeout makes
//   X-Portwatch-Signature: sha256=<hex>  only when the target has an hmac_key: the lowercase hex
//                                        HMAC-SHA256 of the exact body bytes with that key; compare
//                                        it in constant time before trusting the body
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "agent/notify/targets.h"
#include "api/alert_json.h"
#include "collectors/time_text.h"

namespace portwatch::agent::notify {

namespace {

using nlohmann::json;

constexpr int kVersion = 1;

class WebhookTarget final : public Target {
 public:
  WebhookTarget(TargetConfig config, std::optional<Template> text)
      : Target(std::move(config)), text_(std::move(text)) {}

  HttpRequest Render(const Message& message) const override;

 private:
  std::optional<Template> text_;
};

HttpRequest WebhookTarget::Render(const Message& message) const {
  json alert = api::AlertToJson(message.alert);
  if (alert.is_discarded()) alert = nullptr;
  const json body = {
      {"version", kVersion},
      {"host", message.host},
      {"event",
       {{"id", message.event_id},
        {"kind", EventName(message.event)},
        {"at", collectors::FormatIsoTime(message.at)}}},
      {"alert", std::move(alert)},
      {"message", LeadText(message, text_, nullptr)},
      {"link", message.link.empty() ? json() : json(message.link)},
      {"test", message.test},
  };
  HttpRequest request{config().url, DumpJson(body), "application/json", {}};
  request.headers.emplace_back("Idempotency-Key", message.idempotency_key);
  if (!config().hmac_key.empty()) {
    request.headers.emplace_back(
        "X-Portwatch-Signature",
        fmt::format("sha256={}", HmacSha256Hex(config().hmac_key, request.body)));
  }
  return request;
}

}  // namespace

std::unique_ptr<Target> MakeWebhookTarget(TargetConfig config, std::optional<Template> text) {
  return std::make_unique<WebhookTarget>(std::move(config), std::move(text));
}

}  // namespace portwatch::agent::notify
