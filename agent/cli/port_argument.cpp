#include "agent/cli/port_argument.h"

#include <fmt/format.h>

#include <charconv>
#include <string>

namespace portwatch::agent {

Result<PortArgument> ParsePortArgument(std::string_view text, bool allow_protocol) {
  PortArgument argument;
  std::string_view number = text;
  if (const size_t slash = text.find('/'); slash != std::string_view::npos) {
    const std::string_view protocol = text.substr(slash + 1);
    if (!allow_protocol) {
      return Error{fmt::format("port '{}' must be a number from 0 to 65535", text)};
    }
    if (protocol == "tcp") {
      argument.protocol = collectors::Protocol::kTcp;
    } else if (protocol == "udp") {
      argument.protocol = collectors::Protocol::kUdp;
    } else {
      return Error{fmt::format("unknown protocol '{}' in '{}'; use PORT, PORT/tcp or PORT/udp",
                               protocol, text)};
    }
    number = text.substr(0, slash);
  }
  if (number.empty()) return Error{fmt::format("missing port number in '{}'", text)};
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec == std::errc::result_out_of_range ||
      (ec == std::errc() && end == number.data() + number.size() && value > 65535)) {
    return Error{fmt::format("port '{}' is out of range; ports go from 0 to 65535", number)};
  }
  if (ec != std::errc() || end != number.data() + number.size()) {
    return Error{fmt::format("'{}' is not a port number; use a number from 0 to 65535", number)};
  }
  argument.port = static_cast<uint16_t>(value);
  return argument;
}

}  // namespace portwatch::agent
