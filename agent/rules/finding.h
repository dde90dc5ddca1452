// Finding: one rule or detector firing about one subject in one snapshot.
//
// The subject is what an alert is about, written as a key without pids or socket ids (a listener:
// protocol, port, exposure, program, user), so the same thing seen again — after a restart, a
// reconnection, on both IPv4 and IPv6 — has the same key and collapses into one alert.
// Plain value.
#pragma once

#include <cstdint>
#include <string>

#include "agent/rules/rule.h"

namespace portwatch::agent::rules {

// Subject kinds are stored with alerts, so the store defines them.
using store::SubjectKind;
using store::SubjectKindName;

struct Finding {
  std::string rule;  // a rule's id or a detector's name
  Severity severity = Severity::kMedium;
  std::string mitre;
  std::string reason;   // why, in a sentence: "31337 is a known backdoor port (T1571)"
  std::string subject;  // the key alerts collapse on
  SubjectKind kind = SubjectKind::kListener;
  int64_t socket = -1;   // evidence: index into the snapshot's sockets, or -1
  int64_t process = -1;  // evidence when no one socket is: index into the snapshot's processes
};

}  // namespace portwatch::agent::rules
