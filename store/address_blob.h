// How addresses are stored: 4 bytes for IPv4, 16 for IPv6, network order, so SQLite's byte-wise
// blob comparison is address order and a CIDR block is a BETWEEN range.
#pragma once

#include <cstdint>
#include <span>

#include "collectors/endpoint.h"

namespace portwatch::store {

std::span<const uint8_t> AddressBlob(const collectors::Address& address);
// An empty or odd-sized blob gives an address of family kUnspec.
collectors::Address AddressFromBlob(std::span<const uint8_t> blob);

}  // namespace portwatch::store
