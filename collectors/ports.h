// Port and address knowledge: category, service name, exposure, direction, address class.
//
// Every derived fact about a socket is computed here and nowhere else. The functions are pure and
// thread-safe; ServiceName reads /etc/services once, on first use, behind a function-local static.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "collectors/endpoint.h"

namespace portwatch::collectors {

enum class Protocol : uint8_t;

// IANA port ranges.
enum class PortCategory : uint8_t {
  kWellKnown,   // 0-1023: binding needs privilege (CAP_NET_BIND_SERVICE)
  kRegistered,  // 1024-49151: assigned by IANA to services on request
  kDynamic,     // 49152-65535: ephemeral, never assigned to a service
};
PortCategory CategorizePort(uint16_t port);
std::string_view PortCategoryName(PortCategory category);  // "well-known", "registered", "dynamic"
// One sentence on what the category means for someone troubleshooting.
std::string_view PortCategoryMeaning(PortCategory category);

// Who can reach a local address.
enum class Exposure : uint8_t {
  kNone,      // not bound to an IP address (packet sockets)
  kLoopback,  // only this host: 127.0.0.0/8 or ::1
  kAddress,   // one specific address of this host
  kAll,       // every interface: 0.0.0.0 or ::
};
Exposure ExposureOf(const Address& local);
std::string_view ExposureName(Exposure exposure);  // "loopback", "address", "all", "none"
// Whether `a` is reachable from further away than `b`: all > one address > loopback > none.
constexpr bool WiderThan(Exposure a, Exposure b) {
  return static_cast<uint8_t>(a) > static_cast<uint8_t>(b);
}

// The numeric values are stored in history databases: append, never renumber.
enum class Direction : uint8_t {
  kNone = 0,      // raw and packet sockets that are not bound to a peer
  kListen = 1,    // a listener (TCP LISTEN, or an unconnected bound UDP socket)
  kInbound = 2,   // a peer connected to one of our listening ports
  kOutbound = 3,  // we connected to a peer
  kLocal = 4,     // both ends are on this host (loopback)
};
std::string_view DirectionName(Direction direction);  // "listen", "inbound", ...

enum class AddressClass : uint8_t {
  kNone,  // no remote address (listener, unconnected)
  kLoopback,
  kPrivate,  // RFC 1918, RFC 4193 ULA, link-local, CGNAT
  kPublic,
  kMulticast,  // includes broadcast
};
AddressClass ClassifyAddress(const Address& address);
std::string_view AddressClassName(AddressClass address_class);

// The names above back to their values ("tcp", "all", "listen", "dynamic", "public"), exact
// and lower-case; nullopt for anything else.
std::optional<Protocol> ParseProtocolName(std::string_view text);
std::optional<PortCategory> ParsePortCategoryName(std::string_view text);
std::optional<Exposure> ParseExposureName(std::string_view text);
std::optional<Direction> ParseDirectionName(std::string_view text);
std::optional<AddressClass> ParseAddressClassName(std::string_view text);

// The service usually found on a port: the built-in table first (names users expect, such as
// "postgresql" and "redis"), then /etc/services. Empty when nothing is known.
std::string_view ServiceName(uint16_t port, Protocol protocol);

}  // namespace portwatch::collectors
