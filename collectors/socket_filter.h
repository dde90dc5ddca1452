// SocketFilter: which sockets a user asked for — the snapshot command's flags (--listening,
// --tcp, --port, ...) and the API's socket query parameters.
//
// A plain value; Matches is pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "collectors/cidr.h"
#include "collectors/collector.h"
#include "collectors/snapshot.h"

namespace portwatch::collectors {

struct SocketFilter {
  bool listening = false;
  bool not_listening = false;  // everything `listening` leaves out: connections, TIME_WAIT, ...
  // Protocols asked for; none set means all of them.
  bool tcp = false;
  bool udp = false;
  bool raw = false;
  bool packet = false;
  std::optional<uint16_t> port;  // local or remote port
  std::optional<int32_t> pid;    // any owner
  std::string process;           // any owner's name, exact match
  std::optional<collectors::SocketState> state;
  std::optional<uint16_t> local_port;
  std::optional<uint16_t> remote_port;
  std::string user;  // any owner's user name, exact match
  std::optional<Cidr> local_network;
  std::optional<Cidr> remote_network;  // sockets without a peer never match
  std::optional<Exposure> exposure;
  std::optional<Direction> direction;
  std::optional<AddressClass> remote_class;

  bool AnyProtocol() const { return !tcp && !udp && !raw && !packet; }
  // Nothing asked for: every socket matches.
  bool MatchesEverything() const;
  // Narrows the collection to the protocols asked for, so unneeded tables are never read.
  void Restrict(collectors::CollectorOptions& options) const;
  bool Matches(const collectors::Snapshot& snapshot, const collectors::Socket& socket) const;
};

}  // namespace portwatch::collectors
