#include "agent/notify/message.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>

#include "agent/notify/targets.h"
#include "agent/rules/rule.h"

namespace portwatch::agent::notify {

namespace {

using nlohmann::json;

json ParseOrNull(const std::string& text) {
  json parsed = json::parse(text, nullptr, false);
  return parsed.is_discarded() ? json() : parsed;
}

std::string StringField(const json& object, std::string_view key) {
  if (!object.is_object()) return "";
  const auto found = object.find(key);
  return found != object.end() && found->is_string()
             ? collectors::ReplaceUntrusted(found->get<std::string>())
             : "";
}

std::optional<int64_t> IntegerField(const json& object, std::string_view key) {
  if (!object.is_object()) return std::nullopt;
  const auto found = object.find(key);
  if (found == object.end() || !found->is_number_integer()) return std::nullopt;
  return found->get<int64_t>();
}

int SeverityRank(std::string_view name) {
  const std::optional<rules::Severity> severity = rules::ParseSeverity(name);
  return severity ? static_cast<int>(*severity) : 0;
}

std::vector<Reason> ParseReasons(const std::string& text) {
  std::vector<Reason> reasons;
  const json parsed = ParseOrNull(text);
  if (!parsed.is_array()) return reasons;
  for (const json& entry : parsed) {
    if (!entry.is_object()) continue;
    reasons.push_back({StringField(entry, "rule"), StringField(entry, "severity"),
                       StringField(entry, "mitre"), StringField(entry, "reason")});
  }
  // The tracker writes them in this order already; sorting again keeps the promise for rows
  // written by hand or by an older version.
  std::stable_sort(reasons.begin(), reasons.end(), [](const Reason& a, const Reason& b) {
    return SeverityRank(a.severity) > SeverityRank(b.severity);
  });
  return reasons;
}

// "0.0.0.0:31337", "[::1]:8080"; the bare address when there is no port (raw sockets).
std::string EndpointText(const std::string& address, std::optional<int64_t> port) {
  if (address.empty()) return "";
  if (!port) return address;
  if (address.find(':') != std::string::npos) return fmt::format("[{}]:{}", address, *port);
  return fmt::format("{}:{}", address, *port);
}

bool Unspecified(const std::string& address) {
  return address.empty() || address == "0.0.0.0" || address == "::";
}

std::string DashboardBase(std::string_view url) {
  while (!url.empty() && url.back() == '/') url.remove_suffix(1);
  return std::string(url);
}

void FillFromEvidence(Message& message, const json& evidence) {
  message.program = StringField(evidence, "process");
  message.exe = StringField(evidence, "exe");
  message.user = StringField(evidence, "user");
  message.pid = IntegerField(evidence, "pid");
  message.protocol = StringField(evidence, "proto");
  message.local =
      EndpointText(StringField(evidence, "local_addr"), IntegerField(evidence, "local_port"));
  // A listener's or an unconnected socket's peer is the unspecified address, port 0: no peer.
  const std::string remote_address = StringField(evidence, "remote_addr");
  const std::optional<int64_t> remote_port = IntegerField(evidence, "remote_port");
  const bool has_peer = StringField(evidence, "direction") != "listen" &&
                        !(Unspecified(remote_address) && remote_port.value_or(0) == 0);
  if (has_peer) message.remote = EndpointText(remote_address, remote_port);
  const std::optional<int64_t> service_port = IntegerField(evidence, "service_port");
  if (service_port && *service_port > 0 && *service_port <= 65535) {
    message.port = static_cast<int>(*service_port);
  }
  message.service = StringField(evidence, "service");
  message.category = StringField(evidence, "port_category");
  if (message.category == "none") message.category.clear();
  message.exposure = StringField(evidence, "exposure");
}

std::string ExposureText(const std::string& exposure) {
  if (exposure == "all") return "all interfaces";
  if (exposure == "address") return "one address";
  return exposure;
}

// "31337/tcp, registered", "22/tcp ssh, well-known".
std::string PortText(const Message& message) {
  if (!message.port) return "";
  std::string text = message.protocol.empty()
                         ? fmt::format("{}", *message.port)
                         : fmt::format("{}/{}", *message.port, message.protocol);
  if (!message.service.empty()) text += fmt::format(" {}", message.service);
  if (!message.category.empty()) text += fmt::format(", {}", message.category);
  return text;
}

// "nc (/tmp/nc)": the name a user knows, and the path that says where it came from.
std::string ProgramText(const Message& message) {
  if (message.exe.empty() || message.exe == message.program) return message.program;
  if (message.program.empty()) return message.exe;
  return fmt::format("{} ({})", message.program, message.exe);
}

}  // namespace

const std::string& Message::rule() const {
  static const std::string kNone;
  return reasons.empty() ? kNone : reasons.front().rule;
}

Message BuildMessage(const store::Alert& alert, store::AlertEventKind event, int64_t event_id,
                     int64_t at, const MessageContext& context) {
  Message message;
  message.host = collectors::ReplaceUntrusted(context.host);
  message.event_id = event_id;
  message.event = event;
  message.at = at;
  message.alert = alert;
  message.alert.title = collectors::ReplaceUntrusted(alert.title);
  message.reasons = ParseReasons(alert.reasons);
  const auto severity = static_cast<rules::Severity>(alert.severity);
  if (alert.severity >= static_cast<int>(rules::Severity::kInfo) &&
      alert.severity <= static_cast<int>(rules::Severity::kCritical)) {
    message.severity = std::string(rules::SeverityName(severity));
  } else if (!message.reasons.empty()) {
    message.severity = message.reasons.front().severity;
  }
  FillFromEvidence(message, ParseOrNull(alert.last_evidence));
  if (!context.dashboard_url.empty()) {
    message.link = fmt::format("{}/#/alerts/{}", DashboardBase(context.dashboard_url), alert.id);
  }
  message.idempotency_key =
      fmt::format("{}:{}", context.outbox_id.empty() ? message.host : context.outbox_id, event_id);
  return message;
}

Message TestMessage(const MessageContext& context, int64_t now) {
  Message message;
  message.host = collectors::ReplaceUntrusted(context.host);
  message.event = store::AlertEventKind::kOpened;
  message.at = now;
  message.test = true;
  message.severity = std::string(rules::SeverityName(rules::Severity::kInfo));
  message.alert.fingerprint = "test";
  message.alert.subject = "test";
  message.alert.kind = 0;
  message.alert.severity = static_cast<int>(rules::Severity::kInfo);
  message.alert.title = fmt::format("Test alert from portwatch on {}", message.host);
  message.alert.first_seen = message.alert.last_seen = now;
  message.alert.reasons = "[]";
  message.alert.first_evidence = message.alert.last_evidence = "{}";
  message.reasons.push_back(
      {"test", message.severity, "",
       "sent by `portwatch notify test` to check this target; no action is needed"});
  // No alert has id 0: the link opens the alert list, which still shows the URL works.
  if (!context.dashboard_url.empty()) {
    message.link = fmt::format("{}/#/alerts", DashboardBase(context.dashboard_url));
  }
  // Each test is its own delivery: a receiver that drops repeated keys must not drop the next one.
  message.idempotency_key = fmt::format("{}:test:{}", message.host, now);
  return message;
}

std::string Headline(const Message& message) {
  if (message.test) return fmt::format("[TEST] {}", message.alert.title);
  std::string severity = message.severity.empty() ? "ALERT" : message.severity;
  std::transform(severity.begin(), severity.end(), severity.begin(), [](char c) {
    return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
  });
  std::string_view subject = message.alert.title;
  if (subject.empty() && !message.reasons.empty()) subject = message.reasons.front().text;
  const std::string fallback = fmt::format("alert {}", message.alert.id);
  if (subject.empty()) subject = fallback;
  return fmt::format("[{}] {} on {}: {}", severity, EventName(message.event), message.host,
                     subject);
}

std::vector<std::pair<std::string, std::string>> Facts(const Message& message) {
  std::vector<std::pair<std::string, std::string>> facts;
  const auto add = [&facts](std::string_view label, std::string value) {
    if (!value.empty()) facts.emplace_back(std::string(label), std::move(value));
  };
  add("Host", message.host);
  if (!message.reasons.empty()) {
    const Reason& lead = message.reasons.front();
    add("Rule", lead.mitre.empty() || lead.rule.empty()
                    ? lead.rule
                    : fmt::format("{} ({})", lead.rule, lead.mitre));
  }
  add("Severity", message.severity);
  add("Program", ProgramText(message));
  add("PID", message.pid ? fmt::format("{}", *message.pid) : "");
  add("User", message.user);
  add("Local", message.local);
  add("Remote", message.remote);
  add("Port", PortText(message));
  add("Exposure", ExposureText(message.exposure));
  add("Seen", message.alert.count == 1 ? "once" : fmt::format("{} times", message.alert.count));
  add("Reasons", JoinReasons(message, "; "));
  return facts;
}

std::string_view EventName(store::AlertEventKind kind) { return store::AlertEventKindName(kind); }

}  // namespace portwatch::agent::notify
