// The `api:` section of the agent's config into an api::ApiConfig, every problem with its line.
//
//   api:
//     enabled: true
//     listen: 127.0.0.1:7678
//     auth: token            # or none (loopback only)
//     metrics_auth: token    # or none, for a Prometheus without credentials (loopback only)
//     token_file: /var/lib/portwatch/api.token
//     tls: {cert_file: FILE, key_file: FILE}
//     allow_plain_http: false
//     cors_origins: [https://grafana.example.com]
#pragma once

#include <yaml-cpp/yaml.h>

#include "agent/yaml_reader.h"
#include "api/api_config.h"

namespace portwatch::agent {

void ReadApiConfig(const YAML::Node& node, api::ApiConfig& out, Problems& problems);

}  // namespace portwatch::agent
