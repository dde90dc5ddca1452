#include "agent/cli/port_argument.h"

#include <charconv>
#include <string>

namespace portwatch::agent {

Result<PortArgument> ParsePortArgument(std::string_view text, bool allow_protocol) {
  PortArgument argument;
  std::string_view number = text;
  if (const size_t slash = text.find('/'); slash != std::string_view::npos) {
    const std::string_view protocol = text.substr(slash + 1);
    if (!allow_protocol) {
      return Error{"port '" + std::string(text) + "' must be a number from 0 to 65535"};
    }
    if (protocol == "tcp") {
      argument.protocol = collectors::Protocol::kTcp;
    } else if (protocol == "udp") {
      argument.protocol = collectors::Protocol::kUdp;
    } else {
      return Error{"unknown protocol '" + std::string(protocol) + "' in '" + std::string(text) +
                   "'; use PORT, PORT/tcp or PORT/udp"};
    }
    number = text.substr(0, slash);
  }
  if (number.empty()) return Error{"missing port number in '" + std::string(text) + "'"};
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec == std::errc::result_out_of_range ||
      (ec == std::errc() && end == number.data() + number.size() && value > 65535)) {
    return Error{"port '" + std::string(number) + "' is out of range; ports go from 0 to 65535"};
  }
  if (ec != std::errc() || end != number.data() + number.size()) {
    return Error{"'" + std::string(number) +
                 "' is not a port number; use a number from 0 to 65535"};
  }
  argument.port = static_cast<uint16_t>(value);
  return argument;
}

}  // namespace portwatch::agent
