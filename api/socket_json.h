// The JSON form of a socket: one flat object, the same keys everywhere portwatch prints sockets.
//
// Keys: proto, family, state, local_addr, local_port, remote_addr, remote_port, inode, cookie, uid,
// netns, rx_queue, tx_queue, v6only, interface, protocol_number (raw and packet sockets only),
// pid (null when unknown), ppid, process, exe, exe_deleted, cmdline, user, owner_status, owners
// (every owning pid), service, service_port, port_category, exposure, direction, remote_class.
// Addresses are null for packet sockets; ports are null for raw and packet sockets.
#pragma once

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "api/json_text.h"
#include "collectors/snapshot.h"

namespace portwatch::api {

// Adds fields of the caller's own (a history row's id and lifetime) to a socket's object.
using ExtraJsonFields = std::function<void(uint32_t row, JsonObjectWriter& json)>;

void AppendSocketJson(std::string& out, const collectors::Snapshot& snapshot,
                      const collectors::Socket& socket);

// A JSON array of the given sockets (indices into snapshot.sockets), one object per line.
void AppendSocketJsonArray(std::string& out, const collectors::Snapshot& snapshot,
                           const std::vector<uint32_t>& rows, const ExtraJsonFields& extra = {});

// The same array written to a stream in bounded chunks, so memory does not grow with the output.
// Returns false when writing failed.
bool WriteSocketJsonArray(std::FILE* out, const collectors::Snapshot& snapshot,
                          const std::vector<uint32_t>& rows, const ExtraJsonFields& extra = {});

}  // namespace portwatch::api
