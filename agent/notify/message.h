// Message: what a notification says about one alert event, in the terms every target renders.
//
// Built once from the stored alert (its reasons and evidence JSON), so each target only decides
// the layout. Malformed or missing JSON leaves the fields it would fill empty. Text that people
// read (the title, names, paths, users, reasons) is valid UTF-8 with control characters and
// bidirectional overrides replaced by U+FFFD, so a hostile process name cannot forge a line of the
// message; each target still escapes for its own markup. Plain values; thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store/alerts.h"

namespace portwatch::agent::notify {

struct MessageContext {
  MessageContext() = default;
  MessageContext(std::string host_name, std::string dashboard, std::string outbox = "")
      : host(std::move(host_name)),
        dashboard_url(std::move(dashboard)),
        outbox_id(std::move(outbox)) {}

  std::string host;           // this machine's name, as messages show it
  std::string dashboard_url;  // base URL of the dashboard; empty: messages carry no link
  // The database's store::OutboxId, which keys deliveries; empty: the host name stands in.
  std::string outbox_id;
};

struct Reason {
  std::string rule;
  std::string severity;  // "high"
  std::string mitre;     // "T1571", may be empty
  std::string text;
};

struct Message {
  std::string host;
  int64_t event_id = 0;  // alert_events.id; 0 for a test message
  store::AlertEventKind event = store::AlertEventKind::kOpened;
  int64_t at = 0;  // Unix ms of the event
  store::Alert alert;
  bool test = false;  // `portwatch notify test`

  // From the alert and its last evidence; empty (or nullopt) when the alert has none.
  std::string severity;         // "high"
  std::vector<Reason> reasons;  // most severe first
  std::string program;
  std::string exe;
  std::string user;
  std::optional<int64_t> pid;
  std::string protocol;     // "tcp"
  std::string local;        // "0.0.0.0:31337", "[::1]:8080"
  std::string remote;       // empty for a listener
  std::optional<int> port;  // the service port (the local one for a listener or inbound)
  std::string service;      // "ssh"; empty when unknown
  std::string category;     // "well-known", "registered", "dynamic"
  std::string exposure;     // "loopback", "address", "all"
  std::string link;         // <dashboard_url>/#/alerts/<id>; empty without a dashboard URL

  // Stable across restarts and retries of the same delivery, unique across databases:
  // "<outbox id>:<event id>".
  std::string idempotency_key;

  const std::string& rule() const;  // the most severe reason's rule, or "" when none
};

Message BuildMessage(const store::Alert& alert, store::AlertEventKind event, int64_t event_id,
                     int64_t at, const MessageContext& context);
// A made-up alert that says it is a test, for `portwatch notify test`: severity info, no
// evidence, a link to the dashboard's alert list, and an idempotency key of its own each time.
Message TestMessage(const MessageContext& context, int64_t now);

// The one-line summary every chat target leads with:
//   "[HIGH] opened on web-1: nc (pid 42, user root) listens on 0.0.0.0:31337/tcp"
std::string Headline(const Message& message);
// Labelled facts, in display order: Host, Rule, Severity, Program, PID, User, Local, Remote,
// Port ("22/tcp ssh, well-known"), Exposure, Seen ("3 times"), Reasons. Empty values are left out.
std::vector<std::pair<std::string, std::string>> Facts(const Message& message);
// "opened", "reopened", "escalated", "resolved", ...
std::string_view EventName(store::AlertEventKind kind);

}  // namespace portwatch::agent::notify
