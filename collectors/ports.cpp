#include "collectors/ports.h"

#include <array>

#include "collectors/services.h"
#include "collectors/socket.h"

namespace portwatch::collectors {

PortCategory CategorizePort(uint16_t port) {
  if (port <= 1023) return PortCategory::kWellKnown;
  if (port <= 49151) return PortCategory::kRegistered;
  return PortCategory::kDynamic;
}

std::string_view PortCategoryName(PortCategory category) {
  switch (category) {
    case PortCategory::kWellKnown:
      return "well-known";
    case PortCategory::kRegistered:
      return "registered";
    case PortCategory::kDynamic:
      return "dynamic";
  }
  return "unknown";
}

std::string_view PortCategoryMeaning(PortCategory category) {
  switch (category) {
    case PortCategory::kWellKnown:
      return "well-known port (0-1023): binding it needs root or CAP_NET_BIND_SERVICE, so an "
             "ordinary user gets \"permission denied\"";
    case PortCategory::kRegistered:
      return "registered port (1024-49151): any user may bind it; IANA assigns these to services";
    case PortCategory::kDynamic:
      return "dynamic port (49152-65535): ephemeral range, used for outgoing connections; a "
             "listener here is unusual";
  }
  return "";
}

Exposure ExposureOf(const Address& local) {
  if (local.family == Family::kUnspec) return Exposure::kNone;
  if (local.IsUnspecified()) return Exposure::kAll;
  if (local.IsLoopback()) return Exposure::kLoopback;
  return Exposure::kAddress;
}

std::string_view ExposureName(Exposure exposure) {
  switch (exposure) {
    case Exposure::kNone:
      return "none";
    case Exposure::kLoopback:
      return "loopback";
    case Exposure::kAddress:
      return "address";
    case Exposure::kAll:
      return "all";
  }
  return "unknown";
}

std::string_view DirectionName(Direction direction) {
  switch (direction) {
    case Direction::kNone:
      return "none";
    case Direction::kListen:
      return "listen";
    case Direction::kInbound:
      return "inbound";
    case Direction::kOutbound:
      return "outbound";
    case Direction::kLocal:
      return "local";
  }
  return "unknown";
}

AddressClass ClassifyAddress(const Address& address) {
  if (address.family == Family::kUnspec || address.IsUnspecified()) return AddressClass::kNone;
  if (address.IsLoopback()) return AddressClass::kLoopback;
  const Address plain = address.Unmapped();
  const auto& b = plain.bytes;
  if (plain.family == Family::kIpv4) {
    if (b[0] >= 224) return AddressClass::kMulticast;  // 224/4 multicast, 240/4 and broadcast
    if (b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) || (b[0] == 192 && b[1] == 168) ||
        (b[0] == 169 && b[1] == 254) || (b[0] == 100 && (b[1] & 0xc0) == 64)) {
      return AddressClass::kPrivate;
    }
    return AddressClass::kPublic;
  }
  if (b[0] == 0xff) return AddressClass::kMulticast;
  if ((b[0] & 0xfe) == 0xfc || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)) {
    return AddressClass::kPrivate;  // fc00::/7 unique local, fe80::/10 link-local
  }
  return AddressClass::kPublic;
}

std::string_view AddressClassName(AddressClass address_class) {
  switch (address_class) {
    case AddressClass::kNone:
      return "none";
    case AddressClass::kLoopback:
      return "loopback";
    case AddressClass::kPrivate:
      return "private";
    case AddressClass::kPublic:
      return "public";
    case AddressClass::kMulticast:
      return "multicast";
  }
  return "unknown";
}

namespace {

enum : uint8_t { kTcpOnly = 1, kUdpOnly = 2, kBoth = 3 };

struct KnownService {
  uint16_t port;
  uint8_t protocols;
  std::string_view name;
};

// Names users expect for the ports they ask about most; /etc/services fills in the rest.
constexpr std::array kKnownServices = {
    KnownService{20, kTcpOnly, "ftp-data"},
    KnownService{21, kTcpOnly, "ftp"},
    KnownService{22, kTcpOnly, "ssh"},
    KnownService{23, kTcpOnly, "telnet"},
    KnownService{25, kTcpOnly, "smtp"},
    KnownService{53, kBoth, "dns"},
    KnownService{67, kUdpOnly, "dhcp-server"},
    KnownService{68, kUdpOnly, "dhcp-client"},
    KnownService{69, kUdpOnly, "tftp"},
    KnownService{80, kTcpOnly, "http"},
    KnownService{110, kTcpOnly, "pop3"},
    KnownService{111, kBoth, "rpcbind"},
    KnownService{123, kUdpOnly, "ntp"},
    KnownService{137, kUdpOnly, "netbios-ns"},
    KnownService{138, kUdpOnly, "netbios-dgm"},
    KnownService{139, kTcpOnly, "netbios-ssn"},
    KnownService{143, kTcpOnly, "imap"},
    KnownService{161, kUdpOnly, "snmp"},
    KnownService{162, kUdpOnly, "snmptrap"},
    KnownService{389, kBoth, "ldap"},
    KnownService{443, kBoth, "https"},
    KnownService{445, kTcpOnly, "smb"},
    KnownService{465, kTcpOnly, "smtps"},
    KnownService{514, kUdpOnly, "syslog"},
    KnownService{587, kTcpOnly, "submission"},
    KnownService{631, kTcpOnly, "ipp"},
    KnownService{636, kTcpOnly, "ldaps"},
    KnownService{853, kTcpOnly, "dns-over-tls"},
    KnownService{993, kTcpOnly, "imaps"},
    KnownService{995, kTcpOnly, "pop3s"},
    KnownService{1433, kTcpOnly, "mssql"},
    KnownService{1521, kTcpOnly, "oracle"},
    KnownService{1883, kTcpOnly, "mqtt"},
    KnownService{2049, kBoth, "nfs"},
    KnownService{2375, kTcpOnly, "docker"},
    KnownService{2376, kTcpOnly, "docker-tls"},
    KnownService{2379, kTcpOnly, "etcd"},
    KnownService{2380, kTcpOnly, "etcd-peer"},
    KnownService{3306, kTcpOnly, "mysql"},
    KnownService{3389, kTcpOnly, "rdp"},
    KnownService{5353, kUdpOnly, "mdns"},
    KnownService{5432, kTcpOnly, "postgresql"},
    KnownService{5672, kTcpOnly, "amqp"},
    KnownService{5900, kTcpOnly, "vnc"},
    KnownService{6379, kTcpOnly, "redis"},
    KnownService{6443, kTcpOnly, "kubernetes-api"},
    KnownService{7678, kTcpOnly, "portwatch"},
    KnownService{8080, kTcpOnly, "http-alt"},
    KnownService{8443, kTcpOnly, "https-alt"},
    KnownService{9090, kTcpOnly, "prometheus"},
    KnownService{9092, kTcpOnly, "kafka"},
    KnownService{9100, kTcpOnly, "node-exporter"},
    KnownService{9200, kTcpOnly, "elasticsearch"},
    KnownService{10250, kTcpOnly, "kubelet"},
    KnownService{11211, kBoth, "memcached"},
    KnownService{25565, kTcpOnly, "minecraft"},
    KnownService{27017, kTcpOnly, "mongodb"},
};

}  // namespace

namespace {

// Tries every value of a small enum numbered from 0.
template <typename Enum, typename Namer>
std::optional<Enum> ParseName(std::string_view text, Namer name, int count) {
  for (int value = 0; value < count; ++value) {
    if (name(static_cast<Enum>(value)) == text) return static_cast<Enum>(value);
  }
  return std::nullopt;
}

}  // namespace

std::optional<Protocol> ParseProtocolName(std::string_view text) {
  return ParseName<Protocol>(text, ProtocolName, 4);
}
std::optional<PortCategory> ParsePortCategoryName(std::string_view text) {
  return ParseName<PortCategory>(text, PortCategoryName, 3);
}
std::optional<Exposure> ParseExposureName(std::string_view text) {
  return ParseName<Exposure>(text, ExposureName, 4);
}
std::optional<Direction> ParseDirectionName(std::string_view text) {
  return ParseName<Direction>(text, DirectionName, 5);
}
std::optional<AddressClass> ParseAddressClassName(std::string_view text) {
  return ParseName<AddressClass>(text, AddressClassName, 5);
}

std::string_view ServiceName(uint16_t port, Protocol protocol) {
  if (protocol != Protocol::kTcp && protocol != Protocol::kUdp) return {};
  const uint8_t wanted = protocol == Protocol::kTcp ? kTcpOnly : kUdpOnly;
  for (const KnownService& service : kKnownServices) {
    if (service.port == port && (service.protocols & wanted) != 0) return service.name;
  }
  return SystemServices().Find(port, ProtocolName(protocol));
}

}  // namespace portwatch::collectors
