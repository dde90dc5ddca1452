// ApiConfig: where the REST API listens and who may use it — the `api:` section of the agent's
// config.
//
// Safe by default: 127.0.0.1:7678, a bearer token for every /api route and for /metrics. Any
// local user can reach loopback, so even there the token stays on unless `auth: none` is said
// explicitly, and that is refused beyond loopback. Beyond loopback the API also wants TLS (a
// certificate and key) or an explicit `allow_plain_http`. A plain value.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/result.h"

namespace portwatch::api {

enum class Auth { kToken, kNone };
std::string_view AuthName(Auth auth);  // "token", "none"

struct ApiConfig {
  bool enabled = true;
  std::string host = "127.0.0.1";  // an IPv4 or IPv6 literal, or "localhost"
  uint16_t port = 7678;            // 0: any free port (tests); see the api.address file
  Auth auth = Auth::kToken;
  Auth metrics_auth = Auth::kToken;  // Prometheus scrapes with `authorization: {credentials: …}`
  std::string token_file;            // empty: api.token beside the database
  std::string tls_cert_file;         // PEM; both or neither
  std::string tls_key_file;
  bool allow_plain_http = false;  // serve plain HTTP beyond loopback anyway
  // Browser origins allowed to call the API from other pages ("https://grafana.example.com");
  // none by default, so no CORS headers are sent.
  std::vector<std::string> cors_origins;

  bool tls() const { return !tls_cert_file.empty(); }
};

// 127.0.0.0/8, ::1 and "localhost".
bool IsLoopbackHost(std::string_view host);

// Parses "127.0.0.1:7678", "[::1]:7678", "0.0.0.0:7678" or "localhost:7678" into host and port.
Result<void> ParseListen(std::string_view text, ApiConfig& config);

// The combinations that are refused: auth none or plain HTTP beyond loopback, half a TLS pair.
Result<void> CheckApiConfig(const ApiConfig& config);

}  // namespace portwatch::api
