// Router: the API's route table — method, path pattern, who may call it, the query parameters it
// takes, and its handler — and the matching of a request against it.
//
// Paths are written as OpenAPI writes them ("/api/v1/alerts/{id}"), matched segment by segment;
// a path that matches with another method gets 405 and an Allow header, one that matches nothing
// 404. The same table feeds the server and the test that checks the OpenAPI document. Built
// once before the server starts, then only read: thread-safe for reading.
#pragma once

#include <httplib.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace portwatch::api {

// A request that cannot be answered as asked: thrown by handlers and the parameter parsers
// inside the API and turned into a JSON error response by the server; it never leaves api/.
struct HttpError {
  int status = 400;
  std::string message;  // names the problem and what to send instead
};

enum class Access {
  kPublic,   // /healthz, /readyz, the dashboard's page and files
  kToken,    // every /api route
  kMetrics,  // /metrics: api.metrics_auth decides
};

struct Call {
  const httplib::Request& request;
  httplib::Response& response;
  std::vector<std::string> path;  // the values of the pattern's {placeholders}, in order
};

struct Route {
  std::string method;  // "GET", "POST"
  std::string pattern;
  Access access = Access::kToken;
  std::vector<std::string> parameters;  // the query parameters it accepts; any other is a 400
  std::function<void(Call&)> handler;
};

class Router {
 public:
  void Add(Route route);

  struct Match {
    const Route* route = nullptr;      // null: no route for this method (see allowed)
    std::vector<std::string> path;     // placeholder values
    std::vector<std::string> allowed;  // methods the path has, when route is null
  };
  Match Find(std::string_view method, std::string_view path) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

// Sends {"error": message, "status": status} as the response.
void SendError(httplib::Response& response, int status, std::string_view message);
// Sends a JSON document with status 200, uncompressed whatever the client accepts.
void SendJson(httplib::Response& response, std::string body);
// Sends `bytes` as they are, never compressed (httplib's brotli costs far more than it saves on
// loopback). They must outlive the response: static data, or data `owner` keeps alive.
void SendUncompressed(httplib::Response& response, std::string_view content_type,
                      std::string_view bytes, std::shared_ptr<const void> owner = nullptr);

}  // namespace portwatch::api
