// Prometheus Alertmanager: POST <url>/api/v2/alerts with a JSON array of alerts
// (https://github.com/prometheus/alertmanager/blob/main/api/v2/openapi.yaml, postableAlerts).
//
// Alertmanager identifies an alert by its label set, and resolves one it has not heard of for
// resolve_timeout, so: the labels hold only what stays the same for one portwatch alert (no
// counts, times or pids; protocol and port only for alerts about one socket, whose subject fixes
// them), and every active alert is sent again every resend_every, all in one request. A resolved
// one is sent with endsAt. Severity and rule are labels because routing needs them; when an
// alert escalates they change, and Alertmanager resolves the old label set after its
// resolve_timeout, as it does when a Prometheus rule's labels change.
//
// The test message carries the label test="true" and ends five minutes after it is sent, so it
// clears itself.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "agent/notify/targets.h"
#include "agent/rules/finding.h"
#include "collectors/time_text.h"

namespace portwatch::agent::notify {

namespace {

using nlohmann::json;

constexpr int64_t kTestLifetimeMs = 5 * 60 * 1000;

bool Resolved(const Message& message) {
  return message.event == store::AlertEventKind::kResolved ||
         message.alert.status == store::AlertStatus::kResolved;
}

// Subjects that are one socket: their protocol and service port never change.
bool AboutOneSocket(const Message& message) {
  const auto kind = static_cast<rules::SubjectKind>(message.alert.kind);
  return kind == rules::SubjectKind::kListener || kind == rules::SubjectKind::kConnection ||
         kind == rules::SubjectKind::kSocket;
}

class AlertmanagerTarget final : public Target {
 public:
  AlertmanagerTarget(TargetConfig config, std::optional<Template> text)
      : Target(std::move(config)), text_(std::move(text)) {}

  HttpRequest Render(const Message& message) const override;
  std::chrono::milliseconds resend_every() const override { return config().resend_every; }
  HttpRequest RenderActive(std::span<const Message> active) const override;

 private:
  json Alert(const Message& message) const;
  HttpRequest Post(const json& alerts) const;

  std::optional<Template> text_;
};

json AlertmanagerTarget::Alert(const Message& message) const {
  json labels = json::object();
  const auto label = [&labels](const char* name, std::string value) {
    if (!value.empty()) labels[name] = std::move(value);
  };
  label("alertname", "PortwatchAlert");
  label("severity", message.severity);
  label("instance", message.host);
  label("fingerprint", message.alert.fingerprint);
  if (!message.test) {
    label("kind",
          std::string(rules::SubjectKindName(static_cast<rules::SubjectKind>(message.alert.kind))));
  }
  label("rule", message.rule());
  label("program", message.program);
  if (AboutOneSocket(message)) {
    label("protocol", message.protocol);
    label("port", message.port ? fmt::format("{}", *message.port) : "");
  }
  if (message.test) label("test", "true");

  json annotations = {
      {"summary", text_ ? text_->Render(message)
                        : (message.alert.title.empty() ? Headline(message) : message.alert.title)}};
  if (const std::string reasons = JoinReasons(message, "\n"); !reasons.empty()) {
    annotations["description"] = reasons;
  }
  if (!message.link.empty()) annotations["link"] = message.link;

  json alert = {{"labels", std::move(labels)},
                {"annotations", std::move(annotations)},
                {"startsAt", collectors::FormatIsoTime(message.alert.first_seen)}};
  if (Resolved(message)) {
    alert["endsAt"] = collectors::FormatIsoTime(message.alert.resolved_at.value_or(message.at));
  } else if (message.test) {
    alert["endsAt"] = collectors::FormatIsoTime(message.at + kTestLifetimeMs);
  }
  if (!message.link.empty()) alert["generatorURL"] = message.link;
  return alert;
}

HttpRequest AlertmanagerTarget::Post(const json& alerts) const {
  std::string_view base = config().url;
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  return HttpRequest{
      fmt::format("{}/api/v2/alerts", base), DumpJson(alerts), "application/json", {}};
}

HttpRequest AlertmanagerTarget::Render(const Message& message) const {
  json alerts = json::array();
  alerts.push_back(Alert(message));
  return Post(alerts);
}

HttpRequest AlertmanagerTarget::RenderActive(std::span<const Message> active) const {
  json alerts = json::array();
  for (const Message& message : active) alerts.push_back(Alert(message));
  return Post(alerts);
}

}  // namespace

std::unique_ptr<Target> MakeAlertmanagerTarget(TargetConfig config, std::optional<Template> text) {
  return std::make_unique<AlertmanagerTarget>(std::move(config), std::move(text));
}

}  // namespace portwatch::agent::notify
