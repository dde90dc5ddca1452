#include "collectors/endpoint.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace portwatch::collectors {

std::string_view FamilyName(Family family) {
  switch (family) {
    case Family::kIpv4:
      return "inet";
    case Family::kIpv6:
      return "inet6";
    case Family::kUnspec:
      break;
  }
  return "unspec";
}

Address Address::V4(uint32_t network_order) {
  Address address;
  address.family = Family::kIpv4;
  std::memcpy(address.bytes.data(), &network_order, 4);
  return address;
}

Address Address::V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  Address address;
  address.family = Family::kIpv4;
  address.bytes[0] = a;
  address.bytes[1] = b;
  address.bytes[2] = c;
  address.bytes[3] = d;
  return address;
}

Address Address::V6(const uint8_t (&network_order)[16]) {
  Address address;
  address.family = Family::kIpv6;
  std::copy(std::begin(network_order), std::end(network_order), address.bytes.begin());
  return address;
}

std::optional<Address> Address::Parse(std::string_view text) {
  char buffer[kMaxText + 1];
  if (text.empty() || text.size() > kMaxText) return std::nullopt;
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  Address address;
  if (inet_pton(AF_INET, buffer, address.bytes.data()) == 1) {
    address.family = Family::kIpv4;
    return address;
  }
  if (inet_pton(AF_INET6, buffer, address.bytes.data()) == 1) {
    address.family = Family::kIpv6;
    return address;
  }
  return std::nullopt;
}

bool Address::IsUnspecified() const {
  const size_t length = family == Family::kIpv4 ? 4 : 16;
  return std::all_of(bytes.begin(), bytes.begin() + static_cast<long>(length),
                     [](uint8_t b) { return b == 0; });
}

bool Address::IsV4Mapped() const {
  static constexpr uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return family == Family::kIpv6 && std::memcmp(bytes.data(), kPrefix, 12) == 0;
}

Address Address::Unmapped() const {
  if (!IsV4Mapped()) return *this;
  return V4(bytes[12], bytes[13], bytes[14], bytes[15]);
}

bool Address::IsLoopback() const {
  const Address plain = Unmapped();
  if (plain.family == Family::kIpv4) return plain.bytes[0] == 127;
  if (plain.family != Family::kIpv6) return false;
  static constexpr uint8_t kLoopback6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return std::memcmp(plain.bytes.data(), kLoopback6, 16) == 0;
}

size_t Address::Format(char* out) const {
  if (family == Family::kUnspec) {
    out[0] = '*';
    out[1] = '\0';
    return 1;
  }
  const int af = family == Family::kIpv4 ? AF_INET : AF_INET6;
  if (inet_ntop(af, bytes.data(), out, kMaxText) == nullptr) {
    out[0] = '?';
    out[1] = '\0';
    return 1;
  }
  return std::strlen(out);
}

std::string Address::ToString() const {
  char buffer[kMaxText];
  return std::string(buffer, Format(buffer));
}

std::string Endpoint::ToString() const {
  if (address.family == Family::kUnspec || address.IsUnspecified()) {
    return fmt::format("*:{}", port);
  }
  if (address.family == Family::kIpv6) return fmt::format("[{}]:{}", address.ToString(), port);
  return fmt::format("{}:{}", address.ToString(), port);
}

}  // namespace portwatch::collectors
