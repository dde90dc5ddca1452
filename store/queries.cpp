#include "store/queries.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>

#include "collectors/derive.h"
#include "store/address_blob.h"
#include "store/keyframe.h"

namespace portwatch::store {

using namespace collectors;

namespace {

// Columns every socket query selects, in the order ReadRow expects. ?9 is the moment whose state
// is wanted: the last change at or before it, else the state the socket opened in.
constexpr std::string_view kSocketColumns =
    "SELECT s.id, s.opened_at, s.closed_at, s.proto, s.family, "
    "COALESCE((SELECT c.state FROM state_changes c WHERE c.socket_id = s.id AND c.at <= ?9 "
    "ORDER BY c.at DESC LIMIT 1), s.state), "
    "s.local_addr, s.local_port, s.remote_addr, s.remote_port, s.cookie, s.inode, s.uid, "
    "s.netns, s.protocol_number, s.interface, s.v6only, s.direction, s.service_port, "
    "s.owner_status, p.pid, p.start_time, p.ppid, p.uid, p.name, p.exe, p.exe_deleted, "
    "p.cmdline, p.user, p.id, p.exe_device, p.exe_inode, p.exe_mtime_ns "
    "FROM sockets s LEFT JOIN processes p ON p.id = s.process_id ";

// Appends the statement's current row to history. process_index: processes.id -> index in the
// snapshot's processes (one pid and start time may be several identities: an exec).
void ReadRow(const Statement& row, History& history, std::map<int64_t, uint32_t>& process_index) {
  Snapshot& snapshot = history.snapshot;
  Socket socket;
  history.ids.push_back(row.Int(0));
  history.opened_at.push_back(row.Int(1));
  history.closed_at.push_back(row.IsNull(2) ? std::nullopt : std::optional<int64_t>(row.Int(2)));
  socket.protocol = static_cast<Protocol>(row.Int(3));
  socket.family = static_cast<Family>(row.Int(4));
  socket.state = static_cast<SocketState>(row.Int(5));
  socket.local = {AddressFromBlob(row.Blob(6)), static_cast<uint16_t>(row.Int(7))};
  socket.remote = {AddressFromBlob(row.Blob(8)), static_cast<uint16_t>(row.Int(9))};
  socket.cookie = static_cast<uint64_t>(row.Int(10));
  socket.inode = static_cast<uint64_t>(row.Int(11));
  socket.uid = static_cast<uint32_t>(row.Int(12));
  socket.netns = row.IsNull(13) ? snapshot.netns : static_cast<uint64_t>(row.Int(13));
  socket.protocol_number = static_cast<uint16_t>(row.Int(14));
  socket.interface = static_cast<uint32_t>(row.Int(15));
  socket.v6only = row.Int(16) != 0;
  const auto direction = static_cast<Direction>(row.Int(17));
  const auto service_port = static_cast<uint16_t>(row.Int(18));
  socket.owner_status = static_cast<OwnerStatus>(row.Int(19));
  socket.owners_begin = static_cast<uint32_t>(snapshot.owner_indices.size());
  if (!row.IsNull(20)) {
    const int64_t key = row.Int(29);
    auto found = process_index.find(key);
    if (found == process_index.end()) {
      Process process;
      process.pid = static_cast<int32_t>(row.Int(20));
      process.start_time = static_cast<uint64_t>(row.Int(21));
      process.ppid = static_cast<int32_t>(row.Int(22));
      process.uid = static_cast<uint32_t>(row.Int(23));
      process.name = row.Text(24);
      process.exe = row.Text(25);
      process.exe_deleted = row.Int(26) != 0;
      process.cmdline = row.Text(27);
      process.user = row.Text(28);
      process.exe_device = static_cast<uint64_t>(row.Int(30));
      process.exe_inode = static_cast<uint64_t>(row.Int(31));
      process.exe_mtime_ns = row.Int(32);
      found = process_index.emplace(key, static_cast<uint32_t>(snapshot.processes.size())).first;
      snapshot.processes.push_back(std::move(process));
    }
    snapshot.owner_indices.push_back(found->second);
    socket.owner_count = 1;
  }
  snapshot.sockets.push_back(socket);
  // Derived facts come from DeriveFields, except those that needed the whole snapshot at the
  // time: direction and service port were stored as they were computed then.
  snapshot.sockets.back().direction = direction;
  snapshot.sockets.back().service_port = service_port;
}

Result<History> RunSocketQuery(Database& db, const std::string& where,
                               const std::function<void(Statement&)>& bind, int64_t state_at) {
  Result<Statement> query = db.Prepare(std::string(kSocketColumns) + where);
  if (!query) return Error{fmt::format("cannot query {}: {}", db.path(), query.error().message)};
  bind(*query);
  query->Bind(9, state_at);
  History history;
  // Rows in the recording host's own network namespace store NULL for it.
  if (Result<Statement> netns = db.Prepare("SELECT value FROM meta WHERE key = 'netns'"); netns) {
    if (Result<bool> row = netns->Step(); row && *row) {
      history.snapshot.netns = static_cast<uint64_t>(netns->Int(0));
    }
  }
  std::map<int64_t, uint32_t> process_index;
  for (;;) {
    Result<bool> row = query->Step();
    if (!row) return Error{fmt::format("cannot query {}: {}", db.path(), row.error().message)};
    if (!*row) break;
    ReadRow(*query, history, process_index);
  }
  // Fill the rest of the derived fields, keeping the stored direction and service port.
  std::vector<std::pair<Direction, uint16_t>> stored;
  stored.reserve(history.snapshot.sockets.size());
  for (const Socket& socket : history.snapshot.sockets) {
    stored.emplace_back(socket.direction, socket.service_port);
  }
  DeriveFields(history.snapshot);
  for (size_t i = 0; i < stored.size(); ++i) {
    history.snapshot.sockets[i].direction = stored[i].first;
    history.snapshot.sockets[i].service_port = stored[i].second;
  }
  return history;
}

std::string JsonIds(const std::vector<int64_t>& ids) {
  std::string json = "[";
  for (const int64_t id : ids) {
    if (json.size() > 1) json += ',';
    json += std::to_string(id);
  }
  json += ']';
  return json;
}

constexpr std::string_view kOverlaps =
    "s.opened_at <= ?2 AND (s.closed_at IS NULL OR s.closed_at > ?1)";

}  // namespace

Result<std::optional<TimeRange>> RecordedRange(Database& db) {
  Result<Statement> query = db.Prepare("SELECT min(at), max(at) FROM samples");
  if (!query) return query.error();
  Result<bool> row = query->Step();
  if (!row) return row.error();
  if (!*row || query->IsNull(0)) return std::optional<TimeRange>();
  return std::optional<TimeRange>(TimeRange{query->Int(0), query->Int(1)});
}

Result<History> StateAt(Database& db, int64_t at) {
  // 1. The newest keyframe at or before the moment.
  Result<Statement> keyframe = db.Prepare(
      "SELECT at, socket_ids, last_socket_id FROM keyframes WHERE at <= ?1 ORDER BY at DESC "
      "LIMIT 1");
  if (!keyframe) return keyframe.error();
  keyframe->Bind(1, at);
  Result<bool> found = keyframe->Step();
  if (!found) return found.error();
  if (!*found) {
    Result<std::optional<TimeRange>> recorded = RecordedRange(db);
    if (recorded && *recorded) {
      const auto start =
          std::chrono::system_clock::time_point(std::chrono::milliseconds((*recorded)->from));
      return Error{fmt::format(
          "that moment is before the recorded history, which starts at {:%Y-%m-%d %H:%M:%S} UTC",
          fmt::gmtime(std::chrono::system_clock::to_time_t(start)))};
    }
    return Error{fmt::format("{} holds no history yet", db.path())};
  }
  const int64_t keyframe_at = keyframe->Int(0);
  const int64_t keyframe_last_id = keyframe->Int(2);
  std::optional<std::vector<int64_t>> ids = DecodeKeyframe(keyframe->Blob(1));
  if (!ids) return Error{fmt::format("{} has a corrupt keyframe at {}", db.path(), keyframe_at)};

  // 2. Every socket opened by the moment has an id at most the next keyframe's last id (0 on
  //    keyframes from schema 1: unknown).
  Result<Statement> next =
      db.Prepare("SELECT last_socket_id FROM keyframes WHERE at > ?1 ORDER BY at LIMIT 1");
  if (!next) return next.error();
  next->Bind(1, at);
  Result<bool> has_next = next->Step();
  if (!has_next) return has_next.error();
  const int64_t last_id = *has_next && next->Int(0) > 0 ? next->Int(0) : INT64_MAX;

  // 3. The keyframe's sockets and those opened since, less those closed by the moment.
  const std::string json = JsonIds(*ids);
  return RunSocketQuery(
      db,
      "WHERE s.id IN (SELECT value FROM json_each(?1) UNION ALL "
      "               SELECT id FROM sockets WHERE id > ?2 AND id <= ?4) "
      "AND s.opened_at <= ?3 AND (s.closed_at IS NULL OR s.closed_at > ?3) ORDER BY s.id",
      [&](Statement& query) {
        query.Bind(1, json).Bind(2, keyframe_last_id).Bind(3, at).Bind(4, last_id);
      },
      at);
}

Result<History> ConnectionsWith(Database& db, const Cidr& block, TimeRange range) {
  // An IPv4 block also matches IPv4-mapped IPv6 peers (::ffff:a.b.c.d) of dual-stack sockets.
  // Blobs compare byte by byte whatever their length, so each range also checks the length.
  Address mapped_first;
  Address mapped_last;
  const bool v4 = block.network.family == Family::kIpv4;
  if (v4) {
    for (Address* mapped : {&mapped_first, &mapped_last}) {
      mapped->family = Family::kIpv6;
      mapped->bytes[10] = mapped->bytes[11] = 0xff;
    }
    std::copy_n(block.First().bytes.begin(), 4, mapped_first.bytes.begin() + 12);
    std::copy_n(block.Last().bytes.begin(), 4, mapped_last.bytes.begin() + 12);
  }
  const Address first = block.First();
  const Address last = block.Last();
  return RunSocketQuery(
      db,
      "WHERE s.remote_port != 0 AND ((length(s.remote_addr) = ?7 AND s.remote_addr BETWEEN ?3 "
      "AND ?4) OR (length(s.remote_addr) = 16 AND s.remote_addr BETWEEN ?5 AND ?6)) AND " +
          std::string(kOverlaps) + " ORDER BY s.opened_at, s.id",
      [&](Statement& query) {
        query.Bind(1, range.from).Bind(2, range.to).Bind(7, int64_t{v4 ? 4 : 16});
        query.BindBlob(3, AddressBlob(first)).BindBlob(4, AddressBlob(last));
        if (v4) {
          query.BindBlob(5, AddressBlob(mapped_first)).BindBlob(6, AddressBlob(mapped_last));
        } else {
          query.BindBlob(5, AddressBlob(first)).BindBlob(6, AddressBlob(last));
        }
      },
      range.to);
}

Result<History> PortHistory(Database& db, uint16_t port, TimeRange range) {
  return RunSocketQuery(
      db,
      "WHERE (s.local_port = ?3 OR (s.remote_port = ?3 AND s.remote_port != 0)) AND " +
          std::string(kOverlaps) + " ORDER BY s.opened_at, s.id",
      [&](Statement& query) { query.Bind(1, range.from).Bind(2, range.to).Bind(3, int64_t{port}); },
      range.to);
}

Result<Lifetime> SocketLifetime(Database& db, int64_t id) {
  Result<History> socket = RunSocketQuery(
      db, "WHERE s.id = ?1", [&](Statement& query) { query.Bind(1, id); }, INT64_MAX);
  if (!socket) return socket.error();
  if (socket->ids.empty()) return Error{fmt::format("no socket with id {} in {}", id, db.path())};
  Lifetime lifetime;
  Result<Statement> changes = db.Prepare(
      "SELECT opened_at, state FROM sockets WHERE id = ?1 UNION ALL "
      "SELECT at, state FROM state_changes WHERE socket_id = ?1 ORDER BY 1");
  if (!changes) return changes.error();
  changes->Bind(1, id);
  for (;;) {
    Result<bool> row = changes->Step();
    if (!row) return row.error();
    if (!*row) break;
    lifetime.changes.push_back({changes->Int(0), static_cast<SocketState>(changes->Int(1))});
  }
  lifetime.socket = std::move(socket).value();
  return lifetime;
}

Result<ListenerEvents> ListenerEventsIn(Database& db, TimeRange range) {
  Result<Statement> query = db.Prepare(
      "SELECT at, kind, socket_id FROM listener_events WHERE at BETWEEN ?1 AND ?2 "
      "ORDER BY at, id");
  if (!query) return query.error();
  query->Bind(1, range.from).Bind(2, range.to);
  ListenerEvents result;
  std::vector<int64_t> socket_ids;
  for (;;) {
    Result<bool> row = query->Step();
    if (!row) return row.error();
    if (!*row) break;
    result.events.push_back({query->Int(0), query->Int(1) == 1, query->Int(2)});
    socket_ids.push_back(query->Int(2));
  }
  const std::string json = JsonIds(socket_ids);
  Result<History> sockets = RunSocketQuery(
      db, "WHERE s.id IN (SELECT DISTINCT value FROM json_each(?1)) ORDER BY s.id",
      [&](Statement& statement) { statement.Bind(1, json); }, range.to);
  if (!sockets) return sockets.error();
  result.sockets = std::move(sockets).value();
  return result;
}

Result<std::vector<Sample>> SamplesIn(Database& db, TimeRange range, int64_t step_ms) {
  const int64_t step = step_ms > 0 ? step_ms : 1;
  Result<Statement> query = db.Prepare(
      "SELECT (at / ?3) * ?3 AS bucket, max(sockets), max(tcp), max(udp), max(raw), max(packet), "
      "max(listeners), max(established), max(time_wait), max(remote_hosts) FROM samples "
      "WHERE at BETWEEN ?1 AND ?2 GROUP BY bucket ORDER BY bucket");
  if (!query) return query.error();
  query->Bind(1, range.from).Bind(2, range.to).Bind(3, step);
  std::vector<Sample> samples;
  for (;;) {
    Result<bool> row = query->Step();
    if (!row) return row.error();
    if (!*row) break;
    samples.push_back({query->Int(0), query->Int(1), query->Int(2), query->Int(3), query->Int(4),
                       query->Int(5), query->Int(6), query->Int(7), query->Int(8), query->Int(9)});
  }
  return samples;
}

}  // namespace portwatch::store
