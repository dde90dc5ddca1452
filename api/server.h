// ApiServer: the agent's HTTP server — the REST API, /metrics, /healthz and /readyz, and the
// live event stream — on cpp-httplib, with its own threads.
//
// Every response carries the security headers and a strict Content-Security-Policy; every /api
// route wants the bearer token (api/token.h) unless auth is none on loopback. Requests are
// bounded in size (64 KiB bodies, 8 KiB URIs) and time (kIoTimeout to read or write, and as long
// idle between requests on one connection), served by a fixed pool of threads behind a bounded
// queue. cpp-httplib holds a thread per connection, so connections that send nothing can delay
// others by up to kIoTimeout, never longer. Start binds before returning, so a port in use is an
// error there, not a log line later. Stop (or destruction) ends every connection and stream and
// joins the threads. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "api/api_config.h"
#include "api/database_pool.h"
#include "api/live_state.h"
#include "api/router.h"
#include "api/routes/routes.h"
#include "collectors/result.h"

namespace httplib {
class Server;
}

namespace portwatch::api {

inline constexpr size_t kWorkerThreads = 16;
inline constexpr size_t kMaxStreams = 4;  // concurrent event streams; each holds a thread
inline constexpr int kIoTimeoutSeconds = 3;

class ApiServer {
 public:
  // `token` may be empty only when config.auth and config.metrics_auth are both none.
  static Result<std::unique_ptr<ApiServer>> Start(const ApiConfig& config, std::string token,
                                                  LiveState& live, const std::string& database);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  void Stop();

  uint16_t port() const { return port_; }
  // "http://127.0.0.1:7678", "https://[::1]:7678"
  std::string url() const;
  const Router& router() const { return router_; }

 private:
  ApiServer(const ApiConfig& config, std::string token, LiveState& live,
            const std::string& database);
  void Dispatch(const httplib::Request& request, httplib::Response& response);
  bool Authorized(const Route& route, const httplib::Request& request,
                  httplib::Response& response) const;
  void ApplyCors(const httplib::Request& request, httplib::Response& response) const;

  ApiConfig config_;
  std::string token_;
  LiveState& live_;
  DatabasePool pool_;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> streams_{0};
  std::optional<RouteContext> context_;  // what the routes' handlers refer to
  Router router_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  uint16_t port_ = 0;
};

// Builds the route table (for the server, and for the test that checks the OpenAPI document).
void AddAllRoutes(Router& router, const RouteContext& context);

}  // namespace portwatch::api
