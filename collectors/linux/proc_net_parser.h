// Parser for the /proc/net/{tcp,udp,raw}{,6} tables: the fallback when sock_diag is unavailable,
// and the only source of raw sockets on kernels without RAW_DIAG.
//
// Pure: text in, sockets out. A malformed line is an error naming the line, never a crash.
// Thread-compatible.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "collectors/result.h"
#include "collectors/socket.h"

namespace portwatch::collectors::linux {

// Parses a whole table (header line included). On error nothing is appended to `out`.
Result<void> ParseProcNetTable(std::string_view text, Protocol protocol, Family family,
                               uint64_t netns, std::vector<Socket>& out);

}  // namespace portwatch::collectors::linux
