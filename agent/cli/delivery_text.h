// How the CLI shows an outbox row to a person: one line (api/alert_json.h has its JSON). Shared by
// `portwatch notify status` and `portwatch alerts show`.
#pragma once

#include <string>

#include "store/deliveries.h"

namespace portwatch::agent {

// "failed      ops       alert 7 opened   2 attempts, HTTP 400: invalid_token"
std::string DeliveryLine(const store::Delivery& delivery);

}  // namespace portwatch::agent
