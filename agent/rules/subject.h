// Subject keys: what an alert is about, without pids or socket ids.
//
//   listener tcp/31337 exposure=all program=/tmp/nc user=root
//   connection tcp outbound 203.0.113.7:4444 program=/usr/bin/curl user=alice
//   connection tcp inbound port 22 from 198.51.100.9 program=/usr/sbin/sshd user=root
//   process program=/usr/bin/nmap user=alice
//   socket packet protocol=3 program=/usr/sbin/tcpdump user=root
//
// The program is the executable's path when it is known, else the process name; a socket without
// a known owner says program=? . Pure functions.
#pragma once

#include <string>

#include "agent/rules/finding.h"
#include "collectors/snapshot.h"

namespace portwatch::agent::rules {

// The program part of a key: the exe path, else the name, else "?".
std::string ProgramOf(const collectors::Process* owner);

// The key of the subject a socket is: a listener, a connection, or a raw/packet socket.
std::string SocketSubject(const collectors::Socket& socket, const collectors::Process* owner);
std::string ProcessSubject(const collectors::Process& process);

// Which kind of subject SocketSubject gives for this socket.
SubjectKind SocketSubjectKind(const collectors::Socket& socket);

}  // namespace portwatch::agent::rules
