// Address and Endpoint: an IPv4 or IPv6 address plus a port, stored flat (no allocation).
//
// Plain values; thread-safe as any value is. Formatting and parsing live here, in one place, so
// every caller prints "[::1]:22" and "127.0.0.1:22" the same way.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace portwatch::collectors {

enum class Family : uint8_t {
  kUnspec = 0,  // packet sockets and anything without an IP address
  kIpv4 = 1,
  kIpv6 = 2,
};

std::string_view FamilyName(Family family);  // "inet", "inet6", "unspec"

struct Address {
  Family family = Family::kUnspec;
  // Network byte order. IPv4 uses the first four bytes; the rest stay zero.
  std::array<uint8_t, 16> bytes{};

  static Address V4(uint32_t network_order);
  static Address V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d);
  static Address V6(const uint8_t (&network_order)[16]);
  // Parses "127.0.0.1", "::1", "fe80::1". Brackets and zone ids are not accepted.
  static std::optional<Address> Parse(std::string_view text);

  bool IsUnspecified() const;  // 0.0.0.0 or ::
  bool IsLoopback() const;     // 127.0.0.0/8, ::1, ::ffff:127.0.0.0/104
  bool IsV4Mapped() const;     // ::ffff:a.b.c.d
  // For ::ffff:a.b.c.d returns a.b.c.d; otherwise the address itself.
  Address Unmapped() const;

  // Writes the textual form into out (at least kMaxText bytes), returns its length.
  static constexpr size_t kMaxText = 46;  // INET6_ADDRSTRLEN
  size_t Format(char* out) const;
  std::string ToString() const;

  friend bool operator==(const Address&, const Address&) = default;
};

struct Endpoint {
  Address address;
  uint16_t port = 0;

  // "127.0.0.1:22", "[::1]:22", "*:22" for an unspecified address.
  std::string ToString() const;

  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

}  // namespace portwatch::collectors
