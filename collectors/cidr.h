// Cidr: an address block such as 10.0.0.0/8 or 2001:db8::/32; a bare address is a /32 or /128.
//
// A plain value; thread-safe as any value is.
#pragma once

#include <string_view>

#include "collectors/endpoint.h"
#include "collectors/result.h"

namespace portwatch::collectors {

struct Cidr {
  Address network;  // host bits cleared
  int prefix = 0;

  // "203.0.113.7", "10.0.0.0/8", "::1", "2001:db8::/32". Host bits set in the address are an
  // error ("10.0.0.1/8" probably means 10.0.0.0/8 — say so rather than guess).
  static Result<Cidr> Parse(std::string_view text);

  bool Contains(const Address& address) const;
  // The first and last address of the block.
  Address First() const;
  Address Last() const;
};

}  // namespace portwatch::collectors
