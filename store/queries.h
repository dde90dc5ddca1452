// Read-only queries over the history: the state at a moment, connections with an address block,
// a port's history, one socket's lifetime, listener events and samples.
//
// Each query returns its sockets as a collectors::Snapshot (so the CLI and the API print them
// exactly as they print a live snapshot) plus each row's id and lifetime. Thread-compatible: run
// queries on a Database opened by the calling thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "collectors/cidr.h"
#include "collectors/snapshot.h"
#include "store/database.h"
#include "store/sample.h"

namespace portwatch::store {

struct TimeRange {
  int64_t from = 0;  // Unix milliseconds, inclusive
  int64_t to = 0;    // Unix milliseconds, inclusive
};

struct History {
  collectors::Snapshot snapshot;  // sockets and their (primary) owners, derived fields filled
  std::vector<int64_t> ids;       // per socket: its row id
  std::vector<int64_t> opened_at;
  std::vector<std::optional<int64_t>> closed_at;  // nullopt: still open (or open at the end)
};

// Every socket open at `at`, with the state it was in then. Fails when `at` is before the
// first recorded interval (the history cannot know what was open then).
Result<History> StateAt(Database& db, int64_t at);

// Sockets whose remote address is in `block` and whose lifetime overlaps `range`.
Result<History> ConnectionsWith(Database& db, const collectors::Cidr& block, TimeRange range);

// Sockets with `port` as local or remote port whose lifetime overlaps `range`.
Result<History> PortHistory(Database& db, uint16_t port, TimeRange range);

struct StateChange {
  int64_t at = 0;
  collectors::SocketState state = collectors::SocketState::kUnknown;
};
struct Lifetime {
  History socket;                    // exactly one socket
  std::vector<StateChange> changes;  // the opening state first
};
// One socket's lifetime; an error when no socket has that id.
Result<Lifetime> SocketLifetime(Database& db, int64_t id);

struct ListenerEvent {
  int64_t at = 0;
  bool appeared = true;  // false: disappeared
  int64_t socket_id = 0;
};
struct ListenerEvents {
  History sockets;                    // the listeners the events are about, one per distinct socket
  std::vector<ListenerEvent> events;  // in time order; socket_id matches History::ids
};
Result<ListenerEvents> ListenerEventsIn(Database& db, TimeRange range);

// Samples in range, one per step (the maximum of each count within the step). step_ms 0: every
// stored sample.
Result<std::vector<Sample>> SamplesIn(Database& db, TimeRange range, int64_t step_ms);

// The first and last recorded interval, or nullopt for an empty history.
Result<std::optional<TimeRange>> RecordedRange(Database& db);

}  // namespace portwatch::store
