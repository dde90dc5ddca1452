// The API's routes, one file per area, each adding its routes to the table.
//
// Handlers read the latest snapshot from LiveState (current state: never the database) and the
// history, alerts and outbox through the pool's read-only connections; the operator's actions
// open a read-write connection of their own. Bad input throws HttpError (router.h).
#pragma once

#include <atomic>
#include <string>

#include "api/api_config.h"
#include "api/database_pool.h"
#include "api/live_state.h"
#include "api/router.h"

namespace portwatch::api {

struct RouteContext {
  LiveState& live;
  DatabasePool& pool;
  const ApiConfig& config;
  const std::atomic<bool>& stopping;  // the server is stopping: end long-lived streams
  std::atomic<size_t>& streams;       // event streams open now
};

void AddAgentRoutes(Router& router, const RouteContext& context);    // health, status, rules
void AddCurrentRoutes(Router& router, const RouteContext& context);  // sockets, listeners, ...
void AddHistoryRoutes(Router& router, const RouteContext& context);
void AddAlertRoutes(Router& router, const RouteContext& context);  // alerts, notifications
void AddMetricsRoutes(Router& router, const RouteContext& context);
void AddEventRoutes(Router& router, const RouteContext& context);     // Server-Sent Events
void AddDocumentRoutes(Router& router, const RouteContext& context);  // openapi.json
// "/" and "/assets/...": the dashboard's files, embedded at build time (api/assets.h).
void AddDashboardRoutes(Router& router, const RouteContext& context);

// The latest snapshot's view, or HttpError 503 while the agent has taken none yet.
std::shared_ptr<const SnapshotView> RequireView(const RouteContext& context);
// A read-only connection, or HttpError 503 naming why the database cannot be read.
DatabasePool::Lease RequireDatabase(const RouteContext& context);
int64_t NowMillis();
// The database file with its write-ahead log, in bytes (0 when it cannot be read).
uint64_t StoreSizeBytes(const std::string& database);

}  // namespace portwatch::api
