// The agent itself: liveness, readiness, its status, and the rules and baseline in force.

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "api/alert_json.h"
#include "api/routes/routes.h"
#include "collectors/time_text.h"
#include "store/alerts.h"
#include "store/deliveries.h"

namespace portwatch::api {

namespace {

using nlohmann::json;

void Ready(const RouteContext& context, Call& call) {
  const std::shared_ptr<const SnapshotView> view = context.live.view();
  if (!view) {
    SendError(call.response, 503, "not ready: no snapshot taken yet");
    return;
  }
  // Ready while snapshots keep coming: three intervals without one means the loop is stuck.
  const int64_t age = NowMillis() - view->taken_at();
  const int64_t limit = 3 * context.live.interval().count() + 2000;
  if (age > limit) {
    SendError(call.response, 503,
              fmt::format("not ready: the last snapshot is {} ms old (interval {} ms)", age,
                          context.live.interval().count()));
    return;
  }
  if (Result<DatabasePool::Lease> db = context.pool.Acquire(); !db) {
    SendError(call.response, 503, "not ready: cannot read the database: " + db.error().message);
    return;
  }
  // Detection goes on while writes fail, but the history and the notifications wait: a fleet's
  // probe must see that.
  if (const std::string error = context.live.store_error(); !error.empty()) {
    SendError(call.response, 503,
              fmt::format("not ready: the store is failing: {} ({} alert events waiting in memory)",
                          error, context.live.alerts_unstored()));
    return;
  }
  SendJson(call.response, R"({"status":"ready"})");
}

// {"tcp": {"LISTEN": 3, "ESTABLISHED": 12}, "udp": {...}}: the overview's table.
json CountsByState(const SocketCounts& counts) {
  json out = json::object();
  for (size_t protocol = 0; protocol < counts.by_state.size(); ++protocol) {
    for (size_t state = 0; state < counts.by_state[protocol].size(); ++state) {
      const int64_t value = counts.by_state[protocol][state];
      if (value == 0) continue;
      const auto p = static_cast<collectors::Protocol>(protocol);
      out[std::string(collectors::ProtocolName(p))]
         [std::string(collectors::StateName(p, static_cast<collectors::SocketState>(state)))] =
             value;
    }
  }
  return out;
}

void Status(const RouteContext& context, Call& call) {
  const AgentInfo& info = context.live.info();
  const int64_t now = NowMillis();
  json body = {{"version", info.version},
               {"host", info.host},
               {"database", info.database},
               {"started_at", collectors::FormatIsoTime(info.started_at)},
               {"uptime_s", (now - info.started_at) / 1000},
               {"interval_ms", context.live.interval().count()},
               {"snapshots", context.live.snapshots()}};
  if (const std::shared_ptr<const SnapshotView> view = context.live.view()) {
    const store::Sample& counts = view->Counts().sample;
    json by_exposure = {{"loopback", 0}, {"address", 0}, {"all", 0}};
    for (const auto& [exposure, count] : view->Counts().listeners_by_exposure) {
      by_exposure[exposure] = count;
    }
    body["last_snapshot"] = {
        {"taken_at", collectors::FormatIsoTime(view->taken_at())},
        {"age_ms", now - view->taken_at()},
        {"duration_us",
         std::chrono::duration_cast<std::chrono::microseconds>(view->snapshot().duration).count()},
        {"sockets", counts.sockets},
        {"listeners", counts.listeners},
        {"established", counts.established},
        {"processes", view->snapshot().processes.size()},
        {"warnings", view->snapshot().warnings},
        {"by_state", CountsByState(view->Counts())},
        {"listeners_by_exposure", by_exposure}};
  } else {
    body["last_snapshot"] = nullptr;
  }
  const uint64_t size = StoreSizeBytes(info.database);
  body["store"] = {{"size_bytes", size},
                   {"behind", context.live.store_behind()},
                   {"error", context.live.store_error()},
                   {"alerts_unstored", context.live.alerts_unstored()},
                   {"alert_events_dropped", context.live.alert_events_dropped()}};
  DatabasePool::Lease db = RequireDatabase(context);
  store::AlertFilter active;
  active.active_only = true;
  active.limit = 100'000;
  Result<std::vector<store::Alert>> alerts = store::ListAlerts(*db, active);
  body["alerts"] = {{"active", alerts ? json(alerts->size()) : json()}};
  Result<std::map<std::string, store::DeliveryCounts>> outbox = store::CountDeliveries(*db);
  int64_t pending = 0;
  int64_t failed = 0;
  if (outbox) {
    for (const auto& [target, counts] : *outbox) {
      pending += counts.pending;
      failed += counts.failed;
    }
  }
  body["outbox"] = {{"pending", outbox ? json(pending) : json()},
                    {"failed", outbox ? json(failed) : json()}};
  SendJson(call.response, DumpJson(body));
}

}  // namespace

void AddAgentRoutes(Router& router, const RouteContext& context) {
  router.Add({"GET", "/healthz", Access::kPublic, {}, [](Call& call) {
                SendJson(call.response, R"({"status":"ok"})");
              }});
  router.Add(
      {"GET", "/readyz", Access::kPublic, {}, [&context](Call& call) { Ready(context, call); }});
  router.Add({"GET", "/api/v1/status", Access::kToken, {}, [&context](Call& call) {
                Status(context, call);
              }});
  router.Add({"GET", "/api/v1/rules", Access::kToken, {}, [&context](Call& call) {
                SendJson(call.response, context.live.rules_json());
              }});
  router.Add({"GET", "/api/v1/baseline", Access::kToken, {}, [&context](Call& call) {
                SendJson(call.response, context.live.baseline_json());
              }});
}

}  // namespace portwatch::api
