#include "api/server.h"

#include <fmt/format.h>
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "api/token.h"
#include "api/worker_pool.h"

namespace portwatch::api {

namespace {

constexpr size_t kMaxBody = 64 * 1024;
constexpr size_t kMaxParameter = 2048;
constexpr size_t kQueueLimit = 64;

void SetSecurityHeaders(httplib::Response& response, bool tls) {
  // Only the agent's own scripts, styles and images; no frames, no plugins, nothing inline.
  response.set_header("Content-Security-Policy",
                      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' "
                      "data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action "
                      "'none'; frame-ancestors 'none'");
  response.set_header("X-Content-Type-Options", "nosniff");
  response.set_header("X-Frame-Options", "DENY");
  response.set_header("Referrer-Policy", "no-referrer");
  response.set_header("Cross-Origin-Opener-Policy", "same-origin");
  response.set_header("Cross-Origin-Resource-Policy", "same-origin");
  response.set_header("Permissions-Policy", "camera=(), microphone=(), geolocation=()");
  response.set_header("Cache-Control", "no-store");
  if (tls) response.set_header("Strict-Transport-Security", "max-age=31536000");
}

// Every parameter is one the route takes, given once, of a sane length.
void CheckParameters(const Route& route, const httplib::Request& request) {
  std::set<std::string_view> seen;
  for (const auto& [name, value] : request.params) {
    if (std::find(route.parameters.begin(), route.parameters.end(), name) ==
        route.parameters.end()) {
      throw HttpError{
          400, route.parameters.empty()
                   ? fmt::format("unknown parameter '{}': {} takes none", name, route.pattern)
                   : fmt::format("unknown parameter '{}'; {} takes {}", name, route.pattern,
                                 fmt::join(route.parameters, ", "))};
    }
    if (!seen.insert(name).second) {
      throw HttpError{400, fmt::format("parameter '{}' is given more than once", name)};
    }
    if (value.size() > kMaxParameter) {
      throw HttpError{400,
                      fmt::format("parameter '{}' is longer than {} bytes", name, kMaxParameter)};
    }
  }
}

}  // namespace

void AddAllRoutes(Router& router, const RouteContext& context) {
  AddAgentRoutes(router, context);
  AddCurrentRoutes(router, context);
  AddHistoryRoutes(router, context);
  AddAlertRoutes(router, context);
  AddMetricsRoutes(router, context);
  AddEventRoutes(router, context);
  AddDocumentRoutes(router, context);
  AddDashboardRoutes(router, context);
}

ApiServer::ApiServer(const ApiConfig& config, std::string token, LiveState& live,
                     const std::string& database)
    : config_(config), token_(std::move(token)), live_(live), pool_(database) {}

Result<std::unique_ptr<ApiServer>> ApiServer::Start(const ApiConfig& config, std::string token,
                                                    LiveState& live, const std::string& database) {
  if (Result<void> checked = CheckApiConfig(config); !checked) return checked.error();
  const bool needs_token = config.auth == Auth::kToken || config.metrics_auth == Auth::kToken;
  if (needs_token && token.empty()) return Error{"api: no token to check requests against"};
  auto server = std::unique_ptr<ApiServer>(new ApiServer(config, std::move(token), live, database));
  ApiServer& self = *server;
  self.context_.emplace(
      RouteContext{live, self.pool_, self.config_, self.stopping_, self.streams_});
  AddAllRoutes(self.router_, *self.context_);

  if (config.tls()) {
    auto tls = std::make_unique<httplib::SSLServer>(config.tls_cert_file.c_str(),
                                                    config.tls_key_file.c_str());
    if (!tls->is_valid()) {
      return Error{fmt::format(
          "api.tls: cannot load the certificate {} with the key {}: check that both are PEM "
          "files, readable by this user, and that the key matches the certificate",
          config.tls_cert_file, config.tls_key_file)};
    }
    self.server_ = std::move(tls);
  } else {
    self.server_ = std::make_unique<httplib::Server>();
  }
  httplib::Server& http = *self.server_;
  http.new_task_queue = [] { return new WorkerPool(kWorkerThreads, kQueueLimit); };
  http.set_read_timeout(kIoTimeoutSeconds, 0);
  http.set_write_timeout(kIoTimeoutSeconds, 0);
  http.set_keep_alive_timeout(kIoTimeoutSeconds);
  http.set_keep_alive_max_count(1000);
  http.set_payload_max_length(kMaxBody);
  // Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm holds the
  // body until the client's delayed ACK, 40 ms on every kept-alive request.
  http.set_tcp_nodelay(true);
  // httplib's default also sets SO_REUSEPORT, which would let a second agent bind the same port
  // and silently take half the requests; SO_REUSEADDR alone still allows a quick restart.
  http.set_socket_options([](int socket) {
    const int yes = 1;
    setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  const auto dispatch = [&self](const httplib::Request& request, httplib::Response& response) {
    self.Dispatch(request, response);
  };
  // Every path goes to Dispatch, which knows the routes (and so 404 from 405).
  const std::string any = ".*";
  http.Get(any, dispatch);
  http.Post(any, dispatch);
  http.Put(any, dispatch);
  http.Patch(any, dispatch);
  http.Delete(any, dispatch);
  http.Options(any, dispatch);
  // What httplib answers itself (413 too large, 414 URI too long, 400 unparsable) gets the same
  // headers and a JSON body too.
  const bool tls = config.tls();
  http.set_error_handler([tls](const httplib::Request&, httplib::Response& response) {
    if (!response.body.empty()) return;
    SetSecurityHeaders(response, tls);
    const int status = response.status;
    SendError(response, status,
              status == 413   ? "the request body is larger than 64 KiB"
              : status == 414 ? "the request URI is longer than 8 KiB"
              : status == 404 ? "no such route; see /api/v1/openapi.json"
                              : "the request could not be read as HTTP");
  });
  http.set_exception_handler(
      [](const httplib::Request& request, httplib::Response& response, std::exception_ptr) {
        spdlog::error("api: {} {} failed inside the agent", request.method, request.path);
        SendError(response, 500, "internal error; the agent's log says more");
      });

  const bool bound =
      config.port == 0
          ? (self.port_ = static_cast<uint16_t>(http.bind_to_any_port(config.host.c_str()))) > 0
          : http.bind_to_port(config.host.c_str(), config.port);
  if (!bound) {
    return Error{fmt::format(
        "api: cannot listen on {}:{}: the port is in use or the address is not on this host; "
        "see `portwatch who {}`, or set api.listen",
        config.host, config.port, config.port)};
  }
  if (config.port != 0) self.port_ = config.port;
  self.thread_ = std::thread([&http] { http.listen_after_bind(); });
  // httplib's stop() does nothing until the thread is in its accept loop, so a Stop right after
  // Start would leave the thread in accept() for good: return only once it is there.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!http.is_running()) {
    if (std::chrono::steady_clock::now() > deadline) {
      http.stop();
      self.thread_.join();
      return Error{fmt::format("api: the server on {} did not start", self.url())};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  spdlog::info("api: dashboard and API on {} (auth: {}{}, metrics auth: {})", self.url(),
               AuthName(config.auth),
               config.auth == Auth::kToken ? "; `portwatch token` prints it" : "",
               AuthName(config.metrics_auth));
  return server;
}

ApiServer::~ApiServer() { Stop(); }

void ApiServer::Stop() {
  if (stopping_.exchange(true)) return;
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string ApiServer::url() const {
  const bool v6 = config_.host.find(':') != std::string::npos;
  return fmt::format("{}://{}{}{}:{}", config_.tls() ? "https" : "http", v6 ? "[" : "",
                     config_.host, v6 ? "]" : "", port_);
}

bool ApiServer::Authorized(const Route& route, const httplib::Request& request,
                           httplib::Response& response) const {
  if (route.access == Access::kPublic) return true;
  const Auth auth = route.access == Access::kMetrics ? config_.metrics_auth : config_.auth;
  if (auth == Auth::kNone) return true;
  const std::string header = request.get_header_value("Authorization");
  const std::string_view given = BearerToken(header);
  if (!given.empty() && TokensEqual(given, token_)) return true;
  response.set_header("WWW-Authenticate", "Bearer realm=\"portwatch\"");
  SendError(response, 401,
            given.empty() ? "this route needs the API token: send 'Authorization: Bearer TOKEN' "
                            "(`portwatch token` prints it)"
                          : "the API token is wrong: `portwatch token` prints the right one");
  return false;
}

void ApiServer::ApplyCors(const httplib::Request& request, httplib::Response& response) const {
  if (config_.cors_origins.empty() || !request.has_header("Origin")) return;
  const std::string origin = request.get_header_value("Origin");
  if (std::find(config_.cors_origins.begin(), config_.cors_origins.end(), origin) ==
      config_.cors_origins.end()) {
    return;
  }
  response.set_header("Access-Control-Allow-Origin", origin);
  response.set_header("Vary", "Origin");
  response.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type");
  response.set_header("Access-Control-Allow-Methods", "GET, POST");
  response.set_header("Access-Control-Max-Age", "600");
}

void ApiServer::Dispatch(const httplib::Request& request, httplib::Response& response) {
  SetSecurityHeaders(response, config_.tls());
  ApplyCors(request, response);
  try {
    Router::Match match =
        router_.Find(request.method == "OPTIONS" ? "GET" : request.method, request.path);
    if (request.method == "OPTIONS") {
      // A CORS preflight: answered for known paths, without a token (browsers send none).
      if (match.route == nullptr && match.allowed.empty()) {
        throw HttpError{404, "no such route; see /api/v1/openapi.json"};
      }
      response.status = 204;
      return;
    }
    if (match.route == nullptr) {
      if (match.allowed.empty()) throw HttpError{404, "no such route; see /api/v1/openapi.json"};
      response.set_header("Allow", fmt::format("{}", fmt::join(match.allowed, ", ")));
      throw HttpError{405, fmt::format("{} does not take {}; use {}", request.path, request.method,
                                       fmt::join(match.allowed, " or "))};
    }
    if (!Authorized(*match.route, request, response)) return;
    CheckParameters(*match.route, request);
    Call call{request, response, std::move(match.path)};
    match.route->handler(call);
  } catch (const HttpError& error) {
    SendError(response, error.status, error.message);
  }
}

}  // namespace portwatch::api
