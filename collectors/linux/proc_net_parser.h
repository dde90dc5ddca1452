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
#include "collectors/snapshot.h"
#include "collectors/socket.h"

namespace portwatch::collectors::linux {

// Parses a whole table (header line included). On error nothing is appended to `out`.
Result<void> ParseProcNetTable(std::string_view text, Protocol protocol, Family family,
                               uint64_t netns, std::vector<Socket>& out);

// An upper estimate of the sockets a dump will return, from /proc/net/sockstat and sockstat6
// ("TCP: inuse 5 orphan 0 tw 0 alloc 7 mem 1"). Used to size buffers once instead of growing
// them: at 100k sockets a doubling vector briefly holds both its old and new copy.
size_t EstimateSocketCount(std::string_view sockstat, std::string_view sockstat6);

// The host facts the rules need: TcpExt ListenOverflows, ListenDrops, SyncookiesSent,
// TCPReqQFullDoCookies and TCPReqQFullDrop from /proc/net/netstat
// (a header line of names, then a line of values), ip_local_port_range ("32768\t60999") and
// ip_unprivileged_port_start ("1024"). A text that does not parse leaves its fields as they were.
void ParseHostNetwork(std::string_view netstat, std::string_view port_range,
                      std::string_view unprivileged_port_start, HostNetwork& out);

}  // namespace portwatch::collectors::linux
