// Rules files: the user's own rules and changes to the built-in detectors, in YAML.
//
// LoadRules reads every file, in order, on top of DefaultDetectors(), and reports every problem in
// every file at once, one per line: "FILE:LINE: KEY: 'VALUE' is not ...; use ...". Unknown keys,
// keys given twice, missing required keys, values of the wrong form or type (a mapping where a
// list is expected, ...) are all errors, so that a typo never silently weakens a rule. Nothing
// is loaded unless everything is right. An empty file (or one holding only comments) is fine.
//
// The format (packaging/rules.d/example.yaml is a commented example):
//
//   lists:                  # named lists of values, used as "$name" in any list-valued field
//     db_ports: [3306, 5432, "27017-27019"]
//     trusted: [sshd, "nginx*"]
//   rules:
//     - id: db-exposed      # required; [a-z0-9][a-z0-9._-]*, unique across all the files
//       description: A database listens on every interface     # required
//       severity: high      # required; info, low, medium, high or critical
//       mitre: T1190        # optional; an ATT&CK technique, T1234 or T1234.001
//       enabled: true       # optional; true by default
//       when:               # required; what the socket must match (at least one test)
//         local_port: [$db_ports, 8000-8100]
//         exposure: all
//       except:             # optional; a condition or a list of them, each as `when`
//         - process: [$trusted]
//   detectors:              # optional; settings of the built-in detectors
//     fan_out: {ports: 100, hosts: 50, window: 60s}
//
// Tests of a condition (all that are given must match; a test with several values matches any):
//   protocol      tcp, udp, raw, packet
//   state         a socket state: listen, established, syn-sent, time-wait, unconn, ...
//   local_port    ports and ranges: 22, "8000-8100" (0-65535)
//   remote_port   the same, for the peer's port
//   exposure      loopback, address, all, none
//   remote        the peer's address in these blocks: 10.0.0.0/8, 203.0.113.7, 2001:db8::/32
//   local         the local address in these blocks
//   direction     listen, inbound, outbound, local, none
//   category      the local port's: well-known, registered, dynamic
//   remote_class  loopback, private, public, multicast, none
//   process       globs over the owning process's name (comm, at most 15 characters); the
//                 process sets it (prctl), so `rules check` warns and suggests exe
//   exe           globs over its executable's absolute path: "/tmp/*", "/usr/sbin/sshd"
//   package       globs over the installed Debian package owning the executable, unmodified
//                 (its path in /var/lib/dpkg/info/PKG.list, its MD5 the one in PKG.md5sums)
//   sha256        SHA-256s (hex) of the file the process runs, read through /proc/PID/exe
//   user          user names
//   uid           user ids
//   parent        globs over its parent process's name
// A single value may stand for a one-item list. "$name" in a list expands to the named list's
// values, read as the field reads them. Lists are shared by all the files loaded together; a
// name may be defined once, and a list may not use another list. Quote a glob that starts with
// '*' ("*-server"): YAML reads an unquoted *name as an alias.
//
// Detectors (every key optional). Each takes enabled, severity, mitre and except (conditions
// whose matches it ignores, added to any already given), plus its own settings:
//   privileged_port, new_outbound   nothing more
//   unexpected_listener      udp_settle: a duration (30s): how long an unconnected UDP socket in
//                            the ephemeral range must stay open to count as a listener
//   dynamic_range_listener   udp: true|false (also unconnected UDP sockets; true), udp_settle
//   service_owner   owners: {PORT: [program globs]}; a port given replaces its built-in list.
//                   A program glob is an absolute path ("/usr/sbin/sshd"); a bare name ("sshd")
//                   matches the executable's file name, which a copy can carry: a warning
//   sensitive_exposed, backdoor_port   ports: [...], added to the built-in ports
//   suspicious_exe  dirs: [absolute directories], added to the built-in ones
//   raw_socket      programs: [program globs, as for service_owner], added to the built-in ones
//   fan_out         ports: N, hosts: N (distinct remote ports or hosts), window: a duration
//   syn_flood       syn_recv: N (half-open connections on one listener)
// When several files set the same detector setting, the last file wins.
//
// Pure apart from reading the files; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "agent/rules/rule.h"
#include "collectors/result.h"

namespace portwatch::agent::rules {

// What one file contributed.
struct RulesFileSummary {
  std::string path;
  size_t rules = 0;
  size_t lists = 0;
};

struct LoadedRules {
  RuleSet rule_set;
  std::vector<RulesFileSummary> files;  // in the order given
  // "FILE:LINE: ..." for what loads but is weaker than it looks: a process matched by a name it
  // can choose (process:, parent:, a bare name in an allowlist), with the exe path to use.
  std::vector<std::string> warnings;
};

// Files as given, directories as their *.yaml and *.yml files in name order; an error only when a
// directory cannot be listed (a missing file is the loader's to report, with its name).
Result<std::vector<std::string>> ExpandRulePaths(const std::vector<std::string>& paths);

// Loads `paths` in order. The Error holds every problem of every file, one per line.
Result<RuleSet> LoadRules(const std::vector<std::string>& paths);

// The same, with what each file contributed (for `portwatch rules check`).
Result<LoadedRules> LoadRulesWithSummary(const std::vector<std::string>& paths);

}  // namespace portwatch::agent::rules
