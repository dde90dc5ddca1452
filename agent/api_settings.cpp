#include "agent/api_settings.h"

#include <fmt/format.h>

namespace portwatch::agent {

namespace {

void ReadAuth(const YAML::Node& node, std::string_view key, api::Auth& out, Problems& problems) {
  const std::optional<std::string> text = Scalar(node, key, "token or none", problems);
  if (!text) return;
  if (*text == "token") {
    out = api::Auth::kToken;
  } else if (*text == "none") {
    out = api::Auth::kNone;
  } else {
    problems.Add(node, fmt::format("{}: '{}' is not token or none", key, *text));
  }
}

}  // namespace

void ReadApiConfig(const YAML::Node& node, api::ApiConfig& out, Problems& problems) {
  if (!CheckKeys(node, "api",
                 {"enabled", "listen", "auth", "metrics_auth", "token_file", "tls",
                  "allow_plain_http", "cors_origins"},
                 problems)) {
    return;
  }
  CheckDuplicateKeys(node, "api", problems);
  if (const YAML::Node enabled = node["enabled"]) {
    if (auto value = ReadBool(enabled, "api.enabled", problems)) out.enabled = *value;
  }
  if (const YAML::Node listen = node["listen"]) {
    if (auto text =
            Scalar(listen, "api.listen", "an address and port such as 127.0.0.1:7678", problems)) {
      if (Result<void> parsed = api::ParseListen(*text, out); !parsed) {
        problems.Add(listen, "api.listen: " + parsed.error().message);
      }
    }
  }
  if (const YAML::Node auth = node["auth"]) ReadAuth(auth, "api.auth", out.auth, problems);
  if (const YAML::Node auth = node["metrics_auth"]) {
    ReadAuth(auth, "api.metrics_auth", out.metrics_auth, problems);
  }
  if (const YAML::Node file = node["token_file"]) {
    if (auto text = Scalar(file, "api.token_file", "a file path", problems)) out.token_file = *text;
  }
  if (const YAML::Node tls = node["tls"]) {
    if (CheckKeys(tls, "api.tls", {"cert_file", "key_file"}, problems)) {
      if (const YAML::Node cert = tls["cert_file"]) {
        if (auto text = Scalar(cert, "api.tls.cert_file", "a PEM file path", problems)) {
          out.tls_cert_file = *text;
        }
      }
      if (const YAML::Node key = tls["key_file"]) {
        if (auto text = Scalar(key, "api.tls.key_file", "a PEM file path", problems)) {
          out.tls_key_file = *text;
        }
      }
    }
  }
  if (const YAML::Node plain = node["allow_plain_http"]) {
    if (auto value = ReadBool(plain, "api.allow_plain_http", problems)) {
      out.allow_plain_http = *value;
    }
  }
  if (const YAML::Node origins = node["cors_origins"]) {
    if (!origins.IsSequence()) {
      problems.Add(origins,
                   "api.cors_origins: expected a list of origins such as "
                   "https://grafana.example.com");
    } else {
      for (const YAML::Node& origin : origins) {
        auto text = Scalar(origin, "api.cors_origins", "an origin such as https://host", problems);
        if (!text) continue;
        if (!text->starts_with("http://") && !text->starts_with("https://")) {
          problems.Add(origin, fmt::format("api.cors_origins: '{}' is not an origin; write "
                                           "https://host[:port] (no path, no *)",
                                           *text));
          continue;
        }
        out.cors_origins.push_back(*text);
      }
    }
  }
  if (Result<void> checked = api::CheckApiConfig(out); !checked) {
    problems.Add(node, checked.error().message);
  }
}

}  // namespace portwatch::agent
