// The human-readable socket table of `portwatch snapshot`: ss -tulpn's columns plus the owner,
// service, port category and exposure.
#pragma once

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "collectors/snapshot.h"

namespace portwatch::agent {

// Leading columns of the caller's own (a history row's lifetime): a header and a cell per row,
// each already padded to its width.
struct LeadColumns {
  std::string header;
  std::function<std::string(uint32_t row)> cell;
};

// Writes the header and one line per row (indices into snapshot.sockets) to out.
// Returns false when writing failed (a closed pipe, a full disk).
bool WriteSocketTable(std::FILE* out, const collectors::Snapshot& snapshot,
                      const std::vector<uint32_t>& rows, const LeadColumns& lead = {});

// "127.0.0.1:22", "[::1]:22", "0.0.0.0:22"; "*:*" for an unset peer; "*" for packet sockets.
std::string FormatLocal(const collectors::Socket& socket);
std::string FormatPeer(const collectors::Socket& socket);
// The owner column: "sshd", "nginx +3" for shared sockets, "(kernel)" and the like otherwise;
// the name with its control and bidirectional characters escaped (untrusted_text.h).
std::string OwnerLabel(const collectors::Snapshot& snapshot, const collectors::Socket& socket);

}  // namespace portwatch::agent
