#include "collectors/linux/proc_net_parser.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "collectors/parse_number.h"

namespace portwatch::collectors::linux {

namespace {

class FieldReader {
 public:
  explicit FieldReader(std::string_view line) : rest_(line) {}
  std::string_view Next() {
    size_t start = rest_.find_first_not_of(' ');
    if (start == std::string_view::npos) return {};
    size_t end = rest_.find(' ', start);
    if (end == std::string_view::npos) end = rest_.size();
    std::string_view field = rest_.substr(start, end - start);
    rest_.remove_prefix(end);
    return field;
  }

 private:
  std::string_view rest_;
};

// The kernel prints each 32-bit word of the address with %08X in host byte order, so reading the
// hex back into a native integer and copying its bytes restores network order.
bool ParseHexAddress(std::string_view text, Family family, Address& address) {
  const size_t words = family == Family::kIpv4 ? 1 : 4;
  if (text.size() != words * 8) return false;
  uint8_t bytes[16] = {};
  for (size_t i = 0; i < words; ++i) {
    uint32_t word = 0;
    if (!ParseNumber(text.substr(i * 8, 8), word, 16)) return false;
    std::memcpy(bytes + i * 4, &word, 4);
  }
  if (family == Family::kIpv4) {
    uint32_t v4;
    std::memcpy(&v4, bytes, 4);
    address = Address::V4(v4);
  } else {
    address = Address::V6(bytes);
  }
  return true;
}

bool ParseEndpoint(std::string_view text, Family family, Endpoint& endpoint) {
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) return false;
  return ParseHexAddress(text.substr(0, colon), family, endpoint.address) &&
         ParseNumber(text.substr(colon + 1), endpoint.port, 16);
}

bool ParseLine(std::string_view line, Protocol protocol, Family family, uint64_t netns,
               Socket& socket) {
  FieldReader fields(line);
  std::string_view slot = fields.Next();
  if (slot.empty() || slot.back() != ':') return false;
  socket.protocol = protocol;
  socket.family = family;
  socket.netns = netns;
  if (!ParseEndpoint(fields.Next(), family, socket.local) ||
      !ParseEndpoint(fields.Next(), family, socket.remote)) {
    return false;
  }
  unsigned state = 0;
  if (!ParseNumber(fields.Next(), state, 16)) return false;
  socket.state = state <= kMaxSocketState ? static_cast<SocketState>(state) : SocketState::kUnknown;
  std::string_view queues = fields.Next();
  const size_t colon = queues.find(':');
  if (colon == std::string_view::npos ||
      !ParseNumber(queues.substr(0, colon), socket.tx_queue, 16) ||
      !ParseNumber(queues.substr(colon + 1), socket.rx_queue, 16)) {
    return false;
  }
  fields.Next();  // tr:tm->when
  fields.Next();  // retrnsmt
  if (!ParseNumber(fields.Next(), socket.uid, 10)) return false;
  fields.Next();  // timeout
  if (!ParseNumber(fields.Next(), socket.inode, 10)) return false;
  if (protocol == Protocol::kRaw) {
    // For raw sockets the "port" column is the IP protocol number, not a port.
    socket.protocol_number = socket.local.port;
    socket.local.port = 0;
    socket.remote.port = 0;
  }
  return true;
}

// The value after `key` on the line that starts with `label`, or 0.
size_t SockstatValue(std::string_view text, std::string_view label, std::string_view key) {
  size_t line_start = 0;
  while (line_start < text.size()) {
    size_t line_end = text.find('\n', line_start);
    if (line_end == std::string_view::npos) line_end = text.size();
    std::string_view line = text.substr(line_start, line_end - line_start);
    line_start = line_end + 1;
    if (line.substr(0, label.size()) != label) continue;
    FieldReader fields(line.substr(label.size()));
    for (std::string_view field = fields.Next(); !field.empty(); field = fields.Next()) {
      std::string_view value = fields.Next();
      size_t number = 0;
      if (field == key && ParseNumber(value, number, 10)) return number;
    }
    return 0;
  }
  return 0;
}

}  // namespace

size_t EstimateSocketCount(std::string_view sockstat, std::string_view sockstat6) {
  // TCP "alloc" counts every TCP socket of both families (listeners included), "tw" the
  // TIME_WAIT ones that alloc leaves out.
  return SockstatValue(sockstat, "TCP:", "alloc") + SockstatValue(sockstat, "TCP:", "tw") +
         SockstatValue(sockstat, "UDP:", "inuse") + SockstatValue(sockstat, "RAW:", "inuse") +
         SockstatValue(sockstat6, "UDP6:", "inuse") + SockstatValue(sockstat6, "RAW6:", "inuse");
}

Result<void> ParseProcNetTable(std::string_view text, Protocol protocol, Family family,
                               uint64_t netns, std::vector<Socket>& out) {
  const size_t first = out.size();
  size_t line_number = 0;
  while (!text.empty()) {
    const size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    ++line_number;
    if (line_number == 1) {
      if (line.find("local_address") == std::string_view::npos) {
        return Error{"not a /proc/net socket table: the header line is missing"};
      }
      continue;
    }
    if (line.find_first_not_of(' ') == std::string_view::npos) continue;
    Socket socket;
    if (!ParseLine(line, protocol, family, netns, socket)) {
      out.resize(first);
      return Error{"malformed line " + std::to_string(line_number) + ": '" +
                   std::string(line.substr(0, 120)) + "'"};
    }
    out.push_back(socket);
  }
  if (line_number == 0) return Error{"empty /proc/net socket table"};
  return Ok();
}

}  // namespace portwatch::collectors::linux

namespace portwatch::collectors::linux {

namespace {

// Splits on spaces and tabs, dropping empty fields.
std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t start = 0;
  while (start < line.size()) {
    const size_t end = line.find_first_of(" \t", start);
    const size_t stop = end == std::string_view::npos ? line.size() : end;
    if (stop > start) fields.push_back(line.substr(start, stop - start));
    start = stop + 1;
  }
  return fields;
}

std::string_view Trimmed(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  return text;
}

}  // namespace

void ParseHostNetwork(std::string_view netstat, std::string_view port_range,
                      std::string_view unprivileged_port_start, HostNetwork& out) {
  // 1. TcpExt: a line of names, then a line of values, in the same order.
  std::vector<std::string_view> names;
  while (!netstat.empty()) {
    const size_t end = netstat.find('\n');
    const std::string_view line = netstat.substr(0, end);
    netstat = end == std::string_view::npos ? std::string_view() : netstat.substr(end + 1);
    if (!line.starts_with("TcpExt:")) continue;
    std::vector<std::string_view> fields = Fields(line.substr(7));
    if (names.empty()) {
      names = std::move(fields);
      continue;
    }
    if (fields.size() != names.size()) break;
    for (size_t i = 0; i < names.size(); ++i) {
      uint64_t value = 0;
      if (!ParseNumber(fields[i], value)) continue;
      if (names[i] == "ListenOverflows") out.listen_overflows = value;
      if (names[i] == "ListenDrops") out.listen_drops = value;
      if (names[i] == "SyncookiesSent") out.syncookies_sent = value;
      if (names[i] == "TCPReqQFullDoCookies") out.req_queue_full_cookies = value;
      if (names[i] == "TCPReqQFullDrop") out.req_queue_full_drops = value;
    }
    break;
  }
  // 2. "first<TAB>last".
  const std::vector<std::string_view> range = Fields(Trimmed(port_range));
  uint16_t first = 0;
  uint16_t last = 0;
  if (range.size() == 2 && ParseNumber(range[0], first) && ParseNumber(range[1], last) &&
      first <= last) {
    out.ephemeral_first = first;
    out.ephemeral_last = last;
  }
  // 3. One number; the kernel allows 0 to 65536 (65536: even port 65535 needs privilege).
  uint32_t start = 0;
  if (ParseNumber(Trimmed(unprivileged_port_start), start)) {
    out.unprivileged_port_start = static_cast<uint16_t>(std::min<uint32_t>(start, 65535));
  }
}

}  // namespace portwatch::collectors::linux
