// The rule model: severities, conditions over a socket and its owner, rules and rule sets.
//
// A Condition matches when every field it sets matches (AND); a field set to several values
// matches any of them (OR). A Rule fires for a socket its condition matches unless one of its
// exceptions matches too. Built-in detectors share the same severity, MITRE tag and exceptions.
// Plain values; thread-compatible.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "collectors/cidr.h"
#include "collectors/ports.h"
#include "collectors/socket.h"
#include "store/alert_kinds.h"

namespace portwatch::agent::rules {

// Severities are stored with alerts, so the store defines them.
using store::ParseSeverity;
using store::Severity;
using store::SeverityName;

// A set of ports as inclusive ranges.
struct PortSet {
  std::vector<std::pair<uint16_t, uint16_t>> ranges;
  bool Contains(uint16_t port) const;
};

// What a condition may test. Unset fields match anything.
struct Condition {
  std::vector<collectors::Protocol> protocols;
  std::vector<collectors::SocketState> states;
  std::optional<PortSet> local_ports;
  std::optional<PortSet> remote_ports;
  std::vector<collectors::Exposure> exposures;
  std::vector<collectors::Cidr> remote_networks;
  std::vector<collectors::Cidr> local_networks;
  std::vector<collectors::Direction> directions;
  std::vector<collectors::PortCategory> categories;
  std::vector<collectors::AddressClass> remote_classes;
  std::vector<std::string> process_names;  // globs over the process name (comm): spoofable
  std::vector<std::string> exe_paths;      // globs over the executable's path
  std::vector<std::string> packages;       // globs over the Debian package owning the exe
  std::vector<std::string> sha256s;        // lower-case hex SHA-256s of the executable
  std::vector<std::string> users;          // user names
  std::vector<uint32_t> uids;
  std::vector<std::string> parents;  // globs over the parent process's name
  std::string source;                // "rules.yaml:12", for messages

  bool empty() const;
};

// Where the facts a condition tests come from, beyond the socket and its owner.
class ConditionContext {
 public:
  virtual ~ConditionContext() = default;
  // The name of process `pid`'s parent, or empty when it cannot be known.
  virtual std::string ParentName(int32_t ppid) = 0;
  // The SHA-256 of the file `process` runs, and the installed package owning it unmodified
  // (empty: none); see ExeFacts. Asked only by conditions that test them.
  virtual std::optional<std::string> ExeSha256(const collectors::Process& process) = 0;
  virtual std::string ExePackage(const collectors::Process& process) = 0;
};

// Whether `socket`, owned by `owner` (nullptr: no known owner), matches. A condition that tests
// a process field never matches a socket without an owner.
bool Matches(const Condition& condition, const collectors::Socket& socket,
             const collectors::Process* owner, ConditionContext& context);

// Whether a process is one of `programs`: a glob with a '/' is over its executable's full path
// (what it is); a bare name over the executable's file name only, never over the name (comm) a
// process may give itself with prctl(PR_SET_NAME). A bare name still passes a copy of a binary
// put anywhere under that file name: the built-in lists hold absolute paths.
bool ProgramIsOneOf(const std::vector<std::string>& programs, const collectors::Process& process);

// Whether `glob` names a program by name rather than by path (it has no '/'), which any process
// can take: `rules check` warns about such allowlist entries.
bool IsBareProgramName(const std::string& glob);

struct Rule {
  std::string id;  // unique across every loaded file, e.g. "db-exposed"
  std::string description;
  Severity severity = Severity::kMedium;
  std::string mitre;  // an ATT&CK technique id such as "T1571", or empty
  Condition condition;
  std::vector<Condition> exceptions;
  bool enabled = true;
  std::string source;  // "rules.yaml:12"
};

// What every built-in detector has, as a rule does.
struct DetectorSettings {
  bool enabled = true;
  Severity severity = Severity::kMedium;
  std::string mitre;
  std::vector<Condition> exceptions;
};

// The built-in detectors' settings and data tables. The defaults are portwatch's built-in
// knowledge; a rules file's `detectors:` section changes them.
struct DetectorsConfig {
  // 1. A listener that is neither in the baseline nor accepted.
  DetectorSettings unexpected_listener{true, Severity::kMedium, "", {}};
  // How long an unconnected UDP socket in the ephemeral range must stay open to count as a
  // listener (a resolver's query sockets live for one round trip); see udp_settle.h.
  std::chrono::milliseconds unexpected_listener_udp_settle{30'000};
  // 2. A listener inside the host's ephemeral port range (ip_local_port_range).
  DetectorSettings dynamic_range_listener{true, Severity::kLow, "T1571", {}};
  bool dynamic_range_udp = true;  // also bound, unconnected UDP sockets, once settled
  std::chrono::milliseconds dynamic_range_udp_settle{30'000};
  // 3. A well-known service port held by another program: port -> program name globs.
  DetectorSettings service_owner{true, Severity::kHigh, "T1036", {}};
  std::map<uint16_t, std::vector<std::string>> service_owners;
  // 4. Databases, caches, admin and container APIs listening on every interface.
  DetectorSettings sensitive_exposed{true, Severity::kHigh, "", {}};
  PortSet sensitive_ports;
  // 5. Known backdoor, C2 and miner ports, as a local listener or a remote peer.
  DetectorSettings backdoor_port{true, Severity::kHigh, "T1571", {}};
  PortSet backdoor_ports;
  // 6. A socket held by an executable under one of these directories, in a hidden directory,
  //    or deleted after it started.
  DetectorSettings suspicious_exe{true, Severity::kHigh, "T1036.005", {}};
  std::vector<std::string> suspicious_dirs;
  // 7. A raw or packet socket held by a program not in `raw_socket_programs` (globs).
  DetectorSettings raw_socket{true, Severity::kHigh, "T1040", {}};
  std::vector<std::string> raw_socket_programs;
  // 8. One process reaching many distinct remote ports or hosts within a window.
  DetectorSettings fan_out{true, Severity::kMedium, "T1046", {}};
  int fan_out_ports = 100;
  int fan_out_hosts = 50;
  std::chrono::milliseconds fan_out_window{60'000};
  // 9. A listener with many half-open connections, or the accept queue overflowing.
  DetectorSettings syn_flood{true, Severity::kHigh, "T1498.001", {}};
  int syn_recv_threshold = 256;
  // 10. A well-known port (below 1024) bound by a user other than root.
  DetectorSettings privileged_port{false, Severity::kLow, "", {}};
  // 11. A program connecting to a remote address and port it has not connected to before.
  DetectorSettings new_outbound{false, Severity::kLow, "", {}};
};

// portwatch's built-in tables (service owners, sensitive, backdoor ports, ...) and settings.
DetectorsConfig DefaultDetectors();

// Everything the rules files say, lists already expanded.
struct RuleSet {
  std::vector<Rule> rules;
  DetectorsConfig detectors = DefaultDetectors();
  std::vector<std::string> files;  // the files it was loaded from, for log lines
};

}  // namespace portwatch::agent::rules
