// Parsing of the port arguments users type: "22", "22/tcp", "53/udp".
//
// Pure; errors are one line naming what was wrong and what is accepted.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "collectors/result.h"
#include "collectors/socket.h"

namespace portwatch::agent {

struct PortArgument {
  uint16_t port = 0;
  std::optional<collectors::Protocol> protocol;  // unset: any protocol
};

// allow_protocol: whether "/tcp" or "/udp" may follow the number.
Result<PortArgument> ParsePortArgument(std::string_view text, bool allow_protocol);

}  // namespace portwatch::agent
