// PortReport: who holds one port in a snapshot, and what that means for "address already in use",
// "connection refused" and "permission denied" — the `portwatch who` answer, shared by the CLI
// and the API.
//
// Pure: built from a snapshot it points into (keep the snapshot alive while the report is read).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/snapshot.h"

namespace portwatch::collectors {

// What one process (or, without one, the kernel) does with the port.
struct PortHolder {
  const Process* process = nullptr;  // nullptr: no owner, see status
  OwnerStatus status = OwnerStatus::kKnown;
  std::vector<std::string> listening;           // "0.0.0.0:22 (tcp, all interfaces)"
  std::map<std::string_view, int> connections;  // state name -> count
};

struct PortReport {
  uint16_t port = 0;
  std::optional<Protocol> protocol;  // unset: TCP and UDP
  std::vector<uint32_t> rows;        // sockets whose local port is the queried one
  std::vector<PortHolder> holders;
  Exposure widest = Exposure::kNone;            // the widest exposure of any listener
  std::vector<std::string> specific_addresses;  // listeners bound to one address
  bool has_listener = false;
  int time_wait = 0;  // connections on the port waiting out TIME_WAIT

  bool held() const { return !rows.empty(); }
  bool reachable_from_other_hosts() const;
  // "22/tcp", or "22" for any protocol.
  std::string Label() const;
  // The usual service on the port ("ssh"), empty when none is known.
  std::string_view Service() const;
  // One sentence on whether other hosts can connect.
  std::string Reachability() const;
};

// Only TCP and UDP sockets have ports; `protocol` narrows to one of them.
PortReport ReportPort(const Snapshot& snapshot, uint16_t port, std::optional<Protocol> protocol);

}  // namespace portwatch::collectors
