// What an alert is about and how bad it is: the severity and subject kind stored with each alert.
//
// The rules decide them; the store, the CLI and the API name and parse them. Both enums are stored
// in SQLite: never renumber. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace portwatch::store {

enum class Severity : uint8_t { kInfo = 1, kLow = 2, kMedium = 3, kHigh = 4, kCritical = 5 };
std::string_view SeverityName(Severity severity);  // "info" ... "critical"; "unknown" otherwise
std::string_view SeverityName(int severity);       // a stored value
std::optional<Severity> ParseSeverity(std::string_view text);

enum class SubjectKind : uint8_t {
  kListener = 1,    // a listening socket
  kConnection = 2,  // a connection, by program and peer
  kProcess = 3,     // a process's behaviour over many sockets (fan-out)
  kSocket = 4,      // a raw or packet socket
  kHost = 5,        // host-wide counters (accept queue overflows)
};
std::string_view SubjectKindName(SubjectKind kind);  // "listener", ...; "unknown" otherwise
std::string_view SubjectKindName(int kind);          // a stored value

}  // namespace portwatch::store
