#include "collectors/services.h"

#include <fstream>
#include <sstream>

#include "collectors/parse_number.h"

namespace portwatch::collectors {

namespace {

std::string_view NextField(std::string_view& line) {
  size_t start = line.find_first_not_of(" \t");
  if (start == std::string_view::npos) {
    line = {};
    return {};
  }
  size_t end = line.find_first_of(" \t", start);
  if (end == std::string_view::npos) end = line.size();
  std::string_view field = line.substr(start, end - start);
  line.remove_prefix(end);
  return field;
}

}  // namespace

ServiceTable ServiceTable::Parse(std::string_view text) {
  ServiceTable table;
  while (!text.empty()) {
    size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    if (size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);

    std::string_view name = NextField(line);
    std::string_view port_proto = NextField(line);
    size_t slash = port_proto.find('/');
    if (name.empty() || slash == std::string_view::npos) continue;
    std::string_view port_text = port_proto.substr(0, slash);
    std::string_view proto = port_proto.substr(slash + 1);
    unsigned port = 0;
    if (!ParseNumber(port_text, port) || port > 65535) continue;
    if (proto != "tcp" && proto != "udp") continue;
    // The first entry for a port wins, as getservbyport(3) does.
    table.names_.try_emplace(Key(static_cast<uint16_t>(port), proto == "udp"), name);
  }
  return table;
}

std::string_view ServiceTable::Find(uint16_t port, std::string_view protocol) const {
  auto it = names_.find(Key(port, protocol == "udp"));
  return it == names_.end() ? std::string_view() : std::string_view(it->second);
}

const ServiceTable& SystemServices() {
  static const ServiceTable table = [] {
    std::ifstream file("/etc/services");
    if (!file) return ServiceTable();
    std::ostringstream text;
    text << file.rdbuf();
    return ServiceTable::Parse(text.str());
  }();
  return table;
}

}  // namespace portwatch::collectors
