// SocketPage: one page of a snapshot's sockets as a client asked for it — the filters, the
// search box (q), the order (sort) and the page (limit, offset). The current sockets and the state
// at a moment in history answer the same questions the same way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "api/query.h"
#include "collectors/snapshot.h"
#include "collectors/socket_filter.h"

namespace portwatch::api {

enum class SortField {
  kNone,
  kProto,
  kState,
  kLocalAddr,
  kLocalPort,
  kRemoteAddr,
  kRemotePort,
  kPid,
  kProcess,
  kUser,
  kRxQueue,
  kTxQueue,
  kService
};

struct Sort {
  SortField field = SortField::kNone;
  bool descending = false;
};

struct PageRequest {
  collectors::SocketFilter filter;
  std::string search;  // `q`, as typed: a port, an address or block, part of a program's name
  Sort sort;
  int64_t limit = 100;
  int64_t offset = 0;
};

// The request's filters, q, sort, limit and offset; an HttpError (400) names a bad one.
PageRequest ReadPageRequest(const Query& query);

// The query parameters ReadPageRequest reads, for the routes that take them.
std::vector<std::string> PageParameters();

struct Page {
  std::vector<uint32_t> rows;  // the page's rows of the snapshot, in order
  size_t total = 0;            // sockets that match
  size_t first = 0;            // the offset of rows[0] among them
};

Page SelectPage(const collectors::Snapshot& snapshot, const PageRequest& request);

// `"total":…,"offset":…,"limit":…,"snapshot_sockets":…,"next_offset":…,"sockets":[…]`: the
// members of an answer's object that carry the page (without braces).
void AppendPageMembers(std::string& out, const collectors::Snapshot& snapshot, const Page& page,
                       int64_t limit);

}  // namespace portwatch::api
