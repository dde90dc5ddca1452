// SocketFilter: the snapshot command's selection flags (--listening, --tcp, --port, ...).
//
// A plain value; Matches is pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "collectors/collector.h"
#include "collectors/snapshot.h"

namespace portwatch::collectors {

struct SocketFilter {
  bool listening = false;
  // Protocols asked for; none set means all of them.
  bool tcp = false;
  bool udp = false;
  bool raw = false;
  bool packet = false;
  std::optional<uint16_t> port;  // local or remote port
  std::optional<int32_t> pid;    // any owner
  std::string process;           // any owner's name, exact match
  std::optional<collectors::SocketState> state;

  bool AnyProtocol() const { return !tcp && !udp && !raw && !packet; }
  // Narrows the collection to the protocols asked for, so unneeded tables are never read.
  void Restrict(collectors::CollectorOptions& options) const;
  bool Matches(const collectors::Snapshot& snapshot, const collectors::Socket& socket) const;
};

}  // namespace portwatch::collectors
