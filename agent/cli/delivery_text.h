// How the CLI shows an outbox row: one line for a person, an object for --json. Shared by
// `portwatch notify status` and `portwatch alerts show`.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "store/deliveries.h"

namespace portwatch::agent {

// "failed      ops       alert 7 opened   2 attempts, HTTP 400: invalid_token"
std::string DeliveryLine(const store::Delivery& delivery);
nlohmann::json DeliveryJson(const store::Delivery& delivery);

}  // namespace portwatch::agent
