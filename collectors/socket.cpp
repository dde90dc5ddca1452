#include "collectors/socket.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

namespace portwatch::collectors {

std::string_view ProtocolName(Protocol protocol) {
  switch (protocol) {
    case Protocol::kTcp:
      return "tcp";
    case Protocol::kUdp:
      return "udp";
    case Protocol::kRaw:
      return "raw";
    case Protocol::kPacket:
      return "packet";
  }
  return "unknown";
}

namespace {

constexpr std::array<std::string_view, kMaxSocketState + 1> kStateNames = {
    "UNKNOWN", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",    "TIME_WAIT",
    "CLOSE",   "CLOSE_WAIT",  "LAST_ACK", "LISTEN",   "CLOSING",   "NEW_SYN_RECV",
};

}  // namespace

std::string_view StateName(Protocol protocol, SocketState state) {
  const auto index = static_cast<size_t>(state);
  if (index >= kStateNames.size()) return "UNKNOWN";
  if (state == SocketState::kClose && protocol != Protocol::kTcp) return "UNCONN";
  return kStateNames[index];
}

SocketState ParseStateName(std::string_view text) {
  std::string normalized;
  normalized.reserve(text.size());
  for (char c : text) {
    normalized += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  if (normalized == "ESTAB") return SocketState::kEstablished;
  if (normalized == "UNCONN" || normalized == "CLOSED") return SocketState::kClose;
  if (normalized == "LISTENING") return SocketState::kListen;
  if (normalized == "FIN_WAIT_1") return SocketState::kFinWait1;  // ss prints FIN-WAIT-1
  if (normalized == "FIN_WAIT_2") return SocketState::kFinWait2;
  for (size_t i = 1; i < kStateNames.size(); ++i) {
    if (kStateNames[i] == normalized) return static_cast<SocketState>(i);
  }
  return SocketState::kUnknown;
}

std::string_view OwnerStatusName(OwnerStatus status) {
  switch (status) {
    case OwnerStatus::kKnown:
      return "known";
    case OwnerStatus::kKernel:
      return "kernel";
    case OwnerStatus::kNoPermission:
      return "no-permission";
    case OwnerStatus::kProcessGone:
      return "process-gone";
    case OwnerStatus::kNotCollected:
      return "not-collected";
  }
  return "unknown";
}

}  // namespace portwatch::collectors
