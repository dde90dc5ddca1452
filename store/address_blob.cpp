#include "store/address_blob.h"

#include <algorithm>

namespace portwatch::store {

std::span<const uint8_t> AddressBlob(const collectors::Address& address) {
  switch (address.family) {
    case collectors::Family::kIpv4:
      return {address.bytes.data(), 4};
    case collectors::Family::kIpv6:
      return {address.bytes.data(), 16};
    case collectors::Family::kUnspec:
      break;
  }
  return {};
}

collectors::Address AddressFromBlob(std::span<const uint8_t> blob) {
  collectors::Address address;
  if (blob.size() == 4) {
    address.family = collectors::Family::kIpv4;
  } else if (blob.size() == 16) {
    address.family = collectors::Family::kIpv6;
  } else {
    return address;  // unspecified: no address stored
  }
  std::copy(blob.begin(), blob.end(), address.bytes.begin());
  return address;
}

}  // namespace portwatch::store
