// The JSON form of a PortReport (collectors/port_report.h): `portwatch who --json` and the API's
// /api/v1/ports/{port}.
//
// Keys: port, protocol, held, listening, service, port_category, category_meaning, privileged,
// exposure, reachable_from_other_hosts, reachability, holders (pid, process, user, exe,
// owner_status, listening, connections) and sockets (socket_json.h's objects). Pure.
#pragma once

#include <string>

#include "collectors/port_report.h"
#include "collectors/snapshot.h"

namespace portwatch::api {

void AppendPortReportJson(std::string& out, const collectors::Snapshot& snapshot,
                          const collectors::PortReport& report);

}  // namespace portwatch::api
