// Baseline: the listeners expected on this host, as an editable YAML allowlist.
//
//   # portwatch baseline ...
//   listeners:
//     - {program: /usr/sbin/sshd, protocol: tcp, port: 22, user: root, exposure: all}
//
// An entry matches a listener when every field it sets matches: `program` is a glob over the
// executable's path when it contains a '/', else over its file name; leaving a field out
// matches any value (an entry `{program: /usr/sbin/nginx}` allows nginx on every port). Never a
// pid: a baseline survives restarts. Learn records the executable's path; a bare name written by
// hand matches the executable's file name (the process name only when the path is unknown), so
// prctl(PR_SET_NAME) passes no entry, though a copy of a binary under that name passes a bare one.
// A plain value; thread-compatible.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "collectors/result.h"
#include "collectors/snapshot.h"

namespace portwatch::agent::rules {

struct BaselineEntry {
  std::string program;  // empty: any
  std::optional<collectors::Protocol> protocol;
  std::optional<uint16_t> port;
  std::string user;  // empty: any
  std::optional<collectors::Exposure> exposure;

  friend bool operator==(const BaselineEntry&, const BaselineEntry&) = default;
};

class Baseline {
 public:
  // Reads a baseline file; errors name the file and line.
  static Result<Baseline> Load(const std::string& path);

  // Whether some entry allows this listener.
  bool Allows(const collectors::Socket& socket, const collectors::Process* owner) const;

  // Adds an exact entry for every listener in the snapshot no entry allows yet; returns how many.
  int Learn(const collectors::Snapshot& snapshot);

  // Writes the file atomically (a temporary file renamed over it), with `comment` on top.
  Result<void> Save(const std::string& path, const std::string& comment) const;

  const std::vector<BaselineEntry>& entries() const { return entries_; }

 private:
  std::vector<BaselineEntry> entries_;
};

// The exact entry for one listener: program (the exe path; the name only when the path could not
// be read), protocol, port, user, exposure.
BaselineEntry EntryFor(const collectors::Socket& socket, const collectors::Process* owner);

// Listeners the baseline is about: TCP listeners and every bound, unconnected UDP socket (anyone
// can send to one). Those inside the ephemeral range may be a client's transient sockets: the
// detectors wait for them to settle (udp_settle.h), and Learn allows their program any UDP port.
bool IsBaselineListener(const collectors::Socket& socket);

}  // namespace portwatch::agent::rules
