#include "collectors/cidr.h"

#include <fmt/format.h>

#include <string>

#include "collectors/parse_number.h"

namespace portwatch::collectors {

namespace {

int Width(Family family) { return family == Family::kIpv4 ? 32 : 128; }

// Sets (fill = true) or clears the bits after the prefix.
Address WithHostBits(Address address, int prefix, bool fill) {
  const int width = Width(address.family);
  for (int bit = prefix; bit < width; ++bit) {
    const auto mask = static_cast<uint8_t>(0x80u >> (bit % 8));
    auto& byte = address.bytes[static_cast<size_t>(bit / 8)];
    byte = fill ? static_cast<uint8_t>(byte | mask) : static_cast<uint8_t>(byte & ~mask);
  }
  return address;
}

}  // namespace

Result<Cidr> Cidr::Parse(std::string_view text) {
  const size_t slash = text.find('/');
  const std::string_view address_text = text.substr(0, slash);
  std::optional<Address> address = Address::Parse(address_text);
  if (!address) {
    return Error{fmt::format(
        "'{}' is not an address or CIDR block; use forms like 203.0.113.7, 10.0.0.0/8 or "
        "2001:db8::/32",
        text)};
  }
  Cidr cidr;
  cidr.prefix = Width(address->family);
  if (slash != std::string_view::npos) {
    const std::string_view prefix_text = text.substr(slash + 1);
    int prefix = -1;
    if (!ParseNumber(prefix_text, prefix) || prefix < 0 || prefix > Width(address->family)) {
      return Error{
          fmt::format("bad prefix length in '{}'; use 0 to {}", text, Width(address->family))};
    }
    cidr.prefix = prefix;
  }
  cidr.network = WithHostBits(*address, cidr.prefix, false);
  if (!(cidr.network == *address)) {
    return Error{fmt::format("'{}' has host bits set; did you mean {}/{}?", text,
                             cidr.network.ToString(), cidr.prefix)};
  }
  return cidr;
}

bool Cidr::Contains(const Address& address) const {
  const Address plain = network.family == Family::kIpv4 ? address.Unmapped() : address;
  if (plain.family != network.family) return false;
  return WithHostBits(plain, prefix, false) == network;
}

Address Cidr::First() const { return network; }

Address Cidr::Last() const { return WithHostBits(network, prefix, true); }

}  // namespace portwatch::collectors
