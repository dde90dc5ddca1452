// The services(5) database: port and protocol to service name.
//
// ParseServices is pure and tested on fixture text; SystemServices loads /etc/services once and is
// safe to call from any thread after that (C++ static initialisation).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace portwatch::collectors {

class ServiceTable {
 public:
  // Lines look like "http 80/tcp www # WorldWideWeb HTTP". Malformed lines are skipped: the file is
  // advisory and an odd line must not hide the rest.
  static ServiceTable Parse(std::string_view text);

  // "" when the table has no entry for the port and protocol ("tcp", "udp", ...).
  std::string_view Find(uint16_t port, std::string_view protocol) const;
  size_t size() const { return names_.size(); }

 private:
  static uint32_t Key(uint16_t port, bool udp) { return (uint32_t{port} << 1) | (udp ? 1u : 0u); }
  std::unordered_map<uint32_t, std::string> names_;
};

// /etc/services, read on first use; an empty table when the file is missing.
const ServiceTable& SystemServices();

}  // namespace portwatch::collectors
