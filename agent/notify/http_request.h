// HttpRequest and HttpResponse: one POST to a receiver, and what came back.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace portwatch::agent::notify {

struct HttpRequest {
  std::string url;  // absolute http:// or https:// URL; may hold a secret: never log it
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
};

struct HttpResponse {
  int status = 0;    // 0: no response, see `error`
  std::string body;  // at most the first 4 KiB
  // From a Retry-After header (delta-seconds or an HTTP date), whatever the status.
  std::optional<std::chrono::milliseconds> retry_after;
  // Why there was no response, phrased for a user ("connection refused", "TLS: the server's
  // certificate is not signed by a trusted CA ..."); empty when status != 0.
  std::string error;

  bool ok() const { return status >= 200 && status < 300; }
};

}  // namespace portwatch::agent::notify
