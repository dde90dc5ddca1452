// /metrics in the Prometheus text format (version 0.0.4), for a fleet's Prometheus to scrape and
// its Alertmanager to alert on.

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <map>

#include "api/routes/routes.h"
#include "store/alert_kinds.h"
#include "store/alerts.h"
#include "store/deliveries.h"

namespace portwatch::api {

namespace {

using collectors::Protocol;
using collectors::SocketState;

// A label value with \, " and newlines escaped, as the format wants.
std::string Label(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

class Exposition {
 public:
  void Family(std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name,
                   type);
  }
  void Sample(std::string_view name, std::string_view labels, double value) {
    fmt::format_to(std::back_inserter(out_), "{}{}{}{} {}\n", name, labels.empty() ? "" : "{",
                   labels, labels.empty() ? "" : "}", value);
  }
  std::string& text() { return out_; }

 private:
  std::string out_;
};

void Metrics(const RouteContext& context, Call& call) {
  Exposition out;
  const AgentInfo& info = context.live.info();
  out.Family("portwatch_info", "gauge", "The agent's version, always 1.");
  out.Sample("portwatch_info", fmt::format("version=\"{}\"", Label(info.version)), 1);
  out.Family("portwatch_start_time_seconds", "gauge", "When the agent started, in Unix seconds.");
  out.Sample("portwatch_start_time_seconds", "", static_cast<double>(info.started_at) / 1000);

  if (const std::shared_ptr<const SnapshotView> view = context.live.view()) {
    const SocketCounts& counts = view->Counts();
    out.Family("portwatch_sockets", "gauge", "Sockets in the last snapshot by protocol and state.");
    for (size_t protocol = 0; protocol < counts.by_state.size(); ++protocol) {
      for (size_t state = 0; state < counts.by_state[protocol].size(); ++state) {
        const int64_t value = counts.by_state[protocol][state];
        if (value == 0) continue;
        const auto p = static_cast<Protocol>(protocol);
        out.Sample("portwatch_sockets",
                   fmt::format("protocol=\"{}\",state=\"{}\"", collectors::ProtocolName(p),
                               collectors::StateName(p, static_cast<SocketState>(state))),
                   static_cast<double>(value));
      }
    }
    out.Family("portwatch_listeners", "gauge", "Listening sockets by who can reach them.");
    for (std::string_view exposure : {"loopback", "address", "all"}) {
      const auto it = counts.listeners_by_exposure.find(std::string(exposure));
      out.Sample("portwatch_listeners", fmt::format("exposure=\"{}\"", exposure),
                 it == counts.listeners_by_exposure.end() ? 0 : static_cast<double>(it->second));
    }
    out.Family("portwatch_processes", "gauge", "Processes owning sockets in the last snapshot.");
    out.Sample("portwatch_processes", "", static_cast<double>(view->snapshot().processes.size()));
    out.Family("portwatch_remote_hosts", "gauge",
               "Distinct remote hosts connected, loopback excluded.");
    out.Sample("portwatch_remote_hosts", "", static_cast<double>(counts.sample.remote_hosts));
    out.Family("portwatch_last_snapshot_timestamp_seconds", "gauge",
               "When the last snapshot was taken, in Unix seconds.");
    out.Sample("portwatch_last_snapshot_timestamp_seconds", "",
               static_cast<double>(view->taken_at()) / 1000);
  }

  const DurationHistogram durations = context.live.durations();
  out.Family("portwatch_snapshot_duration_seconds", "histogram",
             "How long taking a snapshot of every socket took.");
  for (size_t i = 0; i < kDurationBuckets.size(); ++i) {
    out.Sample("portwatch_snapshot_duration_seconds_bucket",
               fmt::format("le=\"{}\"", kDurationBuckets[i]),
               static_cast<double>(durations.buckets[i]));
  }
  out.Sample("portwatch_snapshot_duration_seconds_bucket", "le=\"+Inf\"",
             static_cast<double>(durations.count));
  out.Sample("portwatch_snapshot_duration_seconds_sum", "", durations.sum_seconds);
  out.Sample("portwatch_snapshot_duration_seconds_count", "", static_cast<double>(durations.count));

  const uint64_t size = StoreSizeBytes(info.database);
  out.Family("portwatch_store_size_bytes", "gauge",
             "The history database with its write-ahead log.");
  out.Sample("portwatch_store_size_bytes", "", static_cast<double>(size));
  out.Family("portwatch_store_behind", "gauge", "1 while the last history write failed.");
  out.Sample("portwatch_store_behind", "", context.live.store_behind() ? 1 : 0);
  out.Family("portwatch_store_failing", "gauge",
             "1 while the last write (history or alerts) failed; detection goes on.");
  out.Sample("portwatch_store_failing", "", context.live.store_error().empty() ? 0 : 1);
  out.Family("portwatch_alerts_unstored", "gauge",
             "Alert events detected but waiting in memory for the database and the outbox.");
  out.Sample("portwatch_alerts_unstored", "", static_cast<double>(context.live.alerts_unstored()));
  out.Family("portwatch_alert_events_dropped_total", "counter",
             "Alert events the in-memory queue could not keep while the database failed.");
  out.Sample("portwatch_alert_events_dropped_total", "",
             static_cast<double>(context.live.alert_events_dropped()));

  DatabasePool::Lease db = RequireDatabase(context);
  store::AlertFilter active;
  active.active_only = true;
  active.limit = 1'000'000;
  Result<std::vector<store::Alert>> alerts = store::ListAlerts(*db, active);
  if (alerts) {
    std::map<std::string, int64_t> by_severity;
    for (int severity = 1; severity <= 5; ++severity) {
      by_severity[std::string(store::SeverityName(severity))] = 0;
    }
    std::map<std::string, int64_t> by_rule;
    for (const store::Alert& alert : *alerts) {
      ++by_severity[std::string(store::SeverityName(alert.severity))];
      const nlohmann::json reasons = nlohmann::json::parse(alert.reasons, nullptr, false);
      if (!reasons.is_array()) continue;
      for (const auto& reason : reasons) ++by_rule[reason.value("rule", "unknown")];
    }
    out.Family("portwatch_alerts_open", "gauge",
               "Active (open or acknowledged) alerts by severity.");
    for (const auto& [severity, count] : by_severity) {
      out.Sample("portwatch_alerts_open", fmt::format("severity=\"{}\"", severity),
                 static_cast<double>(count));
    }
    out.Family("portwatch_alerts_open_by_rule", "gauge",
               "Active alerts by the rule or detector behind them (an alert with several reasons "
               "counts once per rule).");
    for (const auto& [rule, count] : by_rule) {
      out.Sample("portwatch_alerts_open_by_rule", fmt::format("rule=\"{}\"", Label(rule)),
                 static_cast<double>(count));
    }
  }
  if (Result<std::map<std::string, store::DeliveryCounts>> outbox = store::CountDeliveries(*db)) {
    out.Family("portwatch_outbox_pending", "gauge",
               "Notifications waiting to be delivered, by target.");
    for (const auto& [target, counts] : *outbox) {
      out.Sample("portwatch_outbox_pending", fmt::format("target=\"{}\"", Label(target)),
                 static_cast<double>(counts.pending));
    }
    out.Family(
        "portwatch_outbox_failed", "gauge",
        "Notifications that failed for good, by target (`portwatch notify retry` requeues).");
    for (const auto& [target, counts] : *outbox) {
      out.Sample("portwatch_outbox_failed", fmt::format("target=\"{}\"", Label(target)),
                 static_cast<double>(counts.failed));
    }
    out.Family("portwatch_outbox_delivered", "gauge", "Notifications delivered, by target.");
    for (const auto& [target, counts] : *outbox) {
      out.Sample("portwatch_outbox_delivered", fmt::format("target=\"{}\"", Label(target)),
                 static_cast<double>(counts.delivered));
    }
  }
  call.response.status = 200;
  call.response.set_content(std::move(out.text()), "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace

void AddMetricsRoutes(Router& router, const RouteContext& context) {
  router.Add({"GET", "/metrics", Access::kMetrics, {}, [&context](Call& call) {
                Metrics(context, call);
              }});
}

}  // namespace portwatch::api
