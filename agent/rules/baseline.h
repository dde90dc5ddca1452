// Baseline: the listeners expected on this host, as an editable YAML allowlist.
//
//   # portwatch baseline ...
//   listeners:
//     - {program: /usr/sbin/sshd, protocol: tcp, port: 22, user: root, exposure: all}
//
// An entry matches a listener when every field it sets matches: `program` is a glob over the
// executable's path when it contains a '/', else over the process name; leaving a field out
// matches any value (an entry `{program: /usr/sbin/nginx}` allows nginx on every port). Never a
// pid: a baseline survives restarts. A plain value; thread-compatible.
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

// The exact entry for one listener: program (exe path, else name), protocol, port, user, exposure.
BaselineEntry EntryFor(const collectors::Socket& socket, const collectors::Process* owner);

// Listeners the baseline is about: TCP listeners and bound, unconnected UDP sockets outside the
// ephemeral port range (those are mostly DNS and NTP clients, never the same port twice).
bool IsBaselineListener(const collectors::Socket& socket, const collectors::HostNetwork& host);

}  // namespace portwatch::agent::rules
