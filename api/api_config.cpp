#include "api/api_config.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include "collectors/parse_number.h"

namespace portwatch::api {

std::string_view AuthName(Auth auth) { return auth == Auth::kToken ? "token" : "none"; }

bool IsLoopbackHost(std::string_view host) {
  if (host == "localhost" || host == "::1") return true;
  in_addr v4{};
  const std::string text(host);
  return inet_pton(AF_INET, text.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
}

Result<void> ParseListen(std::string_view text, ApiConfig& config) {
  const auto bad = [&text](std::string_view why) {
    return Error{
        fmt::format("'{}' is not a listen address ({}); use 127.0.0.1:7678, "
                    "[::1]:7678 or 0.0.0.0:7678",
                    text, why)};
  };
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return bad("an IPv6 address needs brackets and a port");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("no port");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return bad("an IPv6 address needs brackets");
  }
  uint16_t number = 0;
  if (!collectors::ParseNumber(port, number)) return bad("the port is not a number up to 65535");
  if (host != "localhost") {
    in6_addr address{};
    const std::string host_text(host);
    if (inet_pton(AF_INET, host_text.c_str(), &address) != 1 &&
        inet_pton(AF_INET6, host_text.c_str(), &address) != 1) {
      return bad("the host must be an IP address or localhost");
    }
  }
  config.host = std::string(host);
  config.port = number;
  return Ok();
}

Result<void> CheckApiConfig(const ApiConfig& config) {
  if (config.tls_cert_file.empty() != config.tls_key_file.empty()) {
    return Error{"api.tls: set both cert_file and key_file, or neither"};
  }
  if (IsLoopbackHost(config.host)) return Ok();
  if (config.auth == Auth::kNone || config.metrics_auth == Auth::kNone) {
    return Error{fmt::format(
        "api: auth none is allowed only on loopback, and api.listen is {}; keep auth: token "
        "or listen on 127.0.0.1",
        config.host)};
  }
  if (!config.tls() && !config.allow_plain_http) {
    return Error{fmt::format(
        "api: listening on {} beyond loopback sends the token in clear text; set api.tls "
        "(cert_file, key_file) or allow_plain_http: true",
        config.host)};
  }
  return Ok();
}

}  // namespace portwatch::api
