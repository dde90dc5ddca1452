// The JSON forms of history answers, shared by `portwatch history --json` and the API: socket
// lifetimes (the socket keys plus id, opened_at, closed_at in Unix milliseconds) and samples.
// Pure.
#pragma once

#include <string>
#include <vector>

#include "api/socket_json.h"
#include "store/queries.h"
#include "store/sample.h"

namespace portwatch::api {

// Adds id, opened_at and closed_at (null while open) from `history` to each socket's object.
ExtraJsonFields LifetimeFields(const store::History& history);

// One object per event, in time order: the listener's socket keys plus at, event ("appeared",
// "disappeared") and id.
void AppendListenerEventsJson(std::string& out, const store::ListenerEvents& events);

// [{"at":…,"sockets":…,"tcp":…,"udp":…,"raw":…,"packet":…,"listeners":…,"established":…,
// "time_wait":…,"remote_hosts":…}, …]
void AppendSamplesJson(std::string& out, const std::vector<store::Sample>& samples);

}  // namespace portwatch::api
