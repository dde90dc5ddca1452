// One page of a snapshot's sockets: filter, search, order, page; see socket_page.h.

#include "api/socket_page.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <numeric>
#include <string_view>
#include <utility>

#include "api/json_text.h"
#include "api/router.h"
#include "api/socket_json.h"
#include "collectors/parse_number.h"

namespace portwatch::api {

using namespace collectors;

namespace {

constexpr int64_t kMaxPage = 1000;

template <typename T, typename Parse>
std::optional<T> Named(const Query& query, const char* name, Parse parse, std::string_view forms) {
  const std::optional<std::string> text = query.Text(name);
  if (!text) return std::nullopt;
  std::optional<T> value = parse(*text);
  if (!value) throw HttpError{400, fmt::format("{}: '{}' is not one of {}", name, *text, forms)};
  return value;
}

SocketFilter ReadFilter(const Query& query) {
  SocketFilter filter;
  if (const std::optional<std::string> protocols = query.Text("proto")) {
    size_t start = 0;
    while (start <= protocols->size()) {
      const size_t end = std::min(protocols->find(',', start), protocols->size());
      const std::string_view name = std::string_view(*protocols).substr(start, end - start);
      const std::optional<Protocol> protocol = ParseProtocolName(name);
      if (!protocol) {
        throw HttpError{400, fmt::format("proto: '{}' is not one of tcp, udp, raw, packet "
                                         "(several may be joined with commas)",
                                         name)};
      }
      filter.tcp |= *protocol == Protocol::kTcp;
      filter.udp |= *protocol == Protocol::kUdp;
      filter.raw |= *protocol == Protocol::kRaw;
      filter.packet |= *protocol == Protocol::kPacket;
      start = end + 1;
    }
  }
  if (const std::optional<std::string> state = query.Text("state")) {
    filter.state = ParseStateName(*state);
    if (filter.state == SocketState::kUnknown) {
      throw HttpError{400, fmt::format("state: '{}' is not a socket state; use listen, estab, "
                                       "time-wait, syn-sent, close-wait, unconn ...",
                                       *state)};
    }
  }
  const auto port = [&](const char* name) -> std::optional<uint16_t> {
    if (std::optional<int64_t> value = query.Int(name, 0, 65535)) {
      return static_cast<uint16_t>(*value);
    }
    return std::nullopt;
  };
  filter.port = port("port");
  filter.local_port = port("local_port");
  filter.remote_port = port("remote_port");
  if (std::optional<int64_t> pid = query.Int("pid", 1, 4194304)) {
    filter.pid = static_cast<int32_t>(*pid);
  }
  filter.process = query.Text("process").value_or("");
  filter.user = query.Text("user").value_or("");
  filter.local_network = query.Network("local");
  filter.remote_network = query.Network("remote");
  filter.exposure =
      Named<Exposure>(query, "exposure", ParseExposureName, "loopback, address, all, none");
  filter.direction = Named<Direction>(query, "direction", ParseDirectionName,
                                      "listen, inbound, outbound, local, none");
  filter.remote_class = Named<AddressClass>(query, "remote_class", ParseAddressClassName,
                                            "loopback, private, public, multicast, none");
  // listening=true: only listeners; listening=false: only the rest; absent: both.
  if (query.Text("listening")) {
    filter.listening = query.Bool("listening", true);
    filter.not_listening = !filter.listening;
  }
  return filter;
}

// `q`: what a person types in a search box — a port, an address or block, or part of a
// program's name or path. One per request, over one snapshot.
class Search {
 public:
  explicit Search(std::string text) : text_(std::move(text)) {
    uint16_t port = 0;
    if (ParseNumber(text_, port)) port_ = port;
    if (Result<Cidr> block = Cidr::Parse(text_); block) block_ = *block;
    for (char& c : text_) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }

  bool Matches(const Snapshot& snapshot, const Socket& socket) const {
    if (port_ && socket.HasPorts() &&
        (socket.local.port == *port_ ||
         (socket.remote.port != 0 && socket.remote.port == *port_))) {
      return true;
    }
    if (block_ &&
        ((socket.local.address.family != Family::kUnspec &&
          block_->Contains(socket.local.address)) ||
         (socket.remote_class != AddressClass::kNone && block_->Contains(socket.remote.address)))) {
      return true;
    }
    if (process_matches_.empty() && !snapshot.processes.empty()) {
      // Processes are few next to sockets: compare each one's name and path once.
      process_matches_.reserve(snapshot.processes.size());
      for (const Process& process : snapshot.processes) {
        process_matches_.push_back(Contains(process.name) || Contains(process.exe));
      }
    }
    for (uint32_t index : snapshot.Owners(socket)) {
      if (process_matches_[index]) return true;
    }
    return false;
  }

 private:
  bool Contains(std::string_view haystack) const {
    return std::search(haystack.begin(), haystack.end(), text_.begin(), text_.end(),
                       [](char a, char b) {
                         return std::tolower(static_cast<unsigned char>(a)) == b;
                       }) != haystack.end();
  }

  std::string text_;
  std::optional<uint16_t> port_;
  std::optional<Cidr> block_;
  // Per process of the snapshot searched, whether its name or path holds the text.
  mutable std::vector<bool> process_matches_;
};

Sort ReadSort(const Query& query) {
  static const std::vector<std::pair<std::string_view, SortField>> kFields = {
      {"proto", SortField::kProto},
      {"state", SortField::kState},
      {"local_addr", SortField::kLocalAddr},
      {"local_port", SortField::kLocalPort},
      {"remote_addr", SortField::kRemoteAddr},
      {"remote_port", SortField::kRemotePort},
      {"pid", SortField::kPid},
      {"process", SortField::kProcess},
      {"user", SortField::kUser},
      {"rx_queue", SortField::kRxQueue},
      {"tx_queue", SortField::kTxQueue},
      {"service", SortField::kService}};
  Sort sort;
  std::optional<std::string> text = query.Text("sort");
  if (!text) return sort;
  std::string_view name = *text;
  if (name.starts_with('-')) {
    sort.descending = true;
    name.remove_prefix(1);
  }
  for (const auto& [field_name, field] : kFields) {
    if (field_name == name) sort.field = field;
  }
  if (sort.field == SortField::kNone) {
    std::string names;
    for (const auto& entry : kFields)
      names += (names.empty() ? "" : ", ") + std::string(entry.first);
    throw HttpError{400, fmt::format("sort: '{}' is not a field; use one of {} (a leading '-' "
                                     "sorts descending)",
                                     *text, names)};
  }
  return sort;
}

int AddressOrder(const Address& a, const Address& b) {
  if (a.family != b.family) return a.family < b.family ? -1 : 1;
  return a.bytes < b.bytes ? -1 : (b.bytes < a.bytes ? 1 : 0);
}

// Negative, zero or positive, as a before b.
int Compare(const Snapshot& snapshot, SortField field, uint32_t a_row, uint32_t b_row) {
  const Socket& a = snapshot.sockets[a_row];
  const Socket& b = snapshot.sockets[b_row];
  const auto order = [](auto x, auto y) { return x < y ? -1 : (y < x ? 1 : 0); };
  const Process* a_owner = snapshot.PrimaryOwner(a);
  const Process* b_owner = snapshot.PrimaryOwner(b);
  switch (field) {
    case SortField::kProto:
      return order(a.protocol, b.protocol);
    case SortField::kState:
      return order(StateName(a.protocol, a.state), StateName(b.protocol, b.state));
    case SortField::kLocalAddr:
      return AddressOrder(a.local.address, b.local.address);
    case SortField::kLocalPort:
      return order(a.local.port, b.local.port);
    case SortField::kRemoteAddr:
      return AddressOrder(a.remote.address, b.remote.address);
    case SortField::kRemotePort:
      return order(a.remote.port, b.remote.port);
    case SortField::kPid:
      return order(a_owner ? a_owner->pid : -1, b_owner ? b_owner->pid : -1);
    case SortField::kProcess:
      return order(a_owner ? std::string_view(a_owner->name) : "",
                   b_owner ? std::string_view(b_owner->name) : "");
    case SortField::kUser:
      return order(a_owner ? std::string_view(a_owner->user) : "",
                   b_owner ? std::string_view(b_owner->user) : "");
    case SortField::kRxQueue:
      return order(a.rx_queue, b.rx_queue);
    case SortField::kTxQueue:
      return order(a.tx_queue, b.tx_queue);
    case SortField::kService:
      return order(ServiceName(a.service_port, a.protocol),
                   ServiceName(b.service_port, b.protocol));
    case SortField::kNone:
      break;
  }
  return 0;
}

}  // namespace

PageRequest ReadPageRequest(const Query& query) {
  PageRequest request;
  request.filter = ReadFilter(query);
  request.search = query.Text("q").value_or("");
  request.sort = ReadSort(query);
  request.limit = query.Int("limit", 100, 1, kMaxPage);
  request.offset = query.Int("offset", 0, 0, 100'000'000);
  return request;
}

std::vector<std::string> PageParameters() {
  return {"proto",        "state",     "port",  "local_port", "remote_port", "pid",
          "process",      "user",      "local", "remote",     "exposure",    "direction",
          "remote_class", "listening", "q",     "sort",       "limit",       "offset"};
}

Page SelectPage(const Snapshot& snapshot, const PageRequest& request) {
  Page page;
  const SortField field = request.sort.field;
  const auto offset = static_cast<size_t>(request.offset);
  const auto limit = static_cast<size_t>(request.limit);
  if (request.filter.MatchesEverything() && request.search.empty() && field == SortField::kNone) {
    // The dashboard's first look: a page of the snapshot as it is, without visiting the rest.
    page.total = snapshot.sockets.size();
    page.first = std::min(page.total, offset);
    page.rows.resize(std::min(page.total - page.first, limit));
    std::iota(page.rows.begin(), page.rows.end(), static_cast<uint32_t>(page.first));
    return page;
  }
  const std::optional<Search> search =
      request.search.empty() ? std::nullopt : std::optional<Search>(Search(request.search));
  std::vector<uint32_t> rows;
  rows.reserve(snapshot.sockets.size());
  for (uint32_t row = 0; row < snapshot.sockets.size(); ++row) {
    const Socket& socket = snapshot.sockets[row];
    if (!request.filter.Matches(snapshot, socket)) continue;
    if (search && !search->Matches(snapshot, socket)) continue;
    rows.push_back(row);
  }
  page.total = rows.size();
  page.first = std::min(page.total, offset);
  const size_t count = std::min(page.total - page.first, limit);
  if (field != SortField::kNone) {
    // Only the page is fully ordered: partial_sort costs n log(page), not n log n.
    const bool descending = request.sort.descending;
    const auto before = [&](uint32_t a, uint32_t b) {
      const int c = Compare(snapshot, field, a, b);
      if (c != 0) return descending ? c > 0 : c < 0;
      return a < b;  // ties keep the snapshot's order, so pages never overlap
    };
    std::partial_sort(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(page.first + count),
                      rows.end(), before);
  }
  page.rows.assign(rows.begin() + static_cast<std::ptrdiff_t>(page.first),
                   rows.begin() + static_cast<std::ptrdiff_t>(page.first + count));
  return page;
}

void AppendPageMembers(std::string& out, const Snapshot& snapshot, const Page& page,
                       int64_t limit) {
  const size_t end = page.first + page.rows.size();
  out += fmt::format("\"total\":{},\"offset\":{},\"limit\":{},\"snapshot_sockets\":{},", page.total,
                     page.first, limit, snapshot.sockets.size());
  out += end < page.total ? fmt::format("\"next_offset\":{},", end)
                          : std::string("\"next_offset\":null,");
  out += "\"sockets\":";
  AppendSocketJsonArray(out, snapshot, page.rows);
  while (!out.empty() && out.back() == '\n') out.pop_back();
}

}  // namespace portwatch::api
