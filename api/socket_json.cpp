#include "api/socket_json.h"

#include <cstdint>
#include <optional>

#include "api/json_text.h"

namespace portwatch::api {

using namespace collectors;

namespace {

// An address as a JSON string, or null for sockets without one (packet sockets).
void AddressField(JsonObjectWriter& json, std::string_view key, const Address& address) {
  if (address.family == Family::kUnspec) {
    json.Null(key);
    return;
  }
  char text[Address::kMaxText + 2];
  text[0] = '"';
  const size_t length = address.Format(text + 1);
  text[length + 1] = '"';  // addresses are plain ASCII: nothing to escape
  json.Raw(key, std::string_view(text, length + 2));
}

std::optional<int64_t> PortOrNull(const Socket& socket, uint16_t port) {
  if (!socket.HasPorts()) return std::nullopt;
  return port;
}

}  // namespace

namespace {

void AppendFields(JsonObjectWriter& json, const Snapshot& snapshot, const Socket& socket) {
  const Process* owner = snapshot.PrimaryOwner(socket);
  const Process none;
  const Process& process = owner ? *owner : none;
  json.String("proto", ProtocolName(socket.protocol));
  json.String("family", FamilyName(socket.family));
  json.String("state", StateName(socket.protocol, socket.state));
  AddressField(json, "local_addr", socket.local.address);
  json.Number("local_port", PortOrNull(socket, socket.local.port));
  AddressField(json, "remote_addr", socket.remote.address);
  json.Number("remote_port", PortOrNull(socket, socket.remote.port));
  json.Unsigned("inode", socket.inode);
  json.Unsigned("cookie", socket.cookie);
  json.Number("uid", int64_t{socket.uid});
  json.Unsigned("netns", socket.netns);
  json.Number("rx_queue", int64_t{socket.rx_queue});
  json.Number("tx_queue", int64_t{socket.tx_queue});
  json.Bool("v6only", socket.v6only);
  json.Number("interface", int64_t{socket.interface});
  if (!socket.HasPorts()) json.Number("protocol_number", socket.protocol_number);
  json.Number("pid", owner ? std::optional<int64_t>(process.pid) : std::nullopt);
  json.Number("ppid", owner ? std::optional<int64_t>(process.ppid) : std::nullopt);
  json.StringOrNull("process", process.name);
  json.StringOrNull("exe", process.exe);
  json.Bool("exe_deleted", process.exe_deleted);
  json.StringOrNull("cmdline", process.cmdline);
  json.StringOrNull("user", process.user);
  json.String("owner_status", OwnerStatusName(socket.owner_status));
  std::string owners = "[";
  for (uint32_t index : snapshot.Owners(socket)) {
    if (owners.size() > 1) owners += ',';
    owners += std::to_string(snapshot.processes[index].pid);
  }
  owners += ']';
  json.Raw("owners", owners);
  json.StringOrNull("service", ServiceName(socket.service_port, socket.protocol));
  json.Number("service_port", socket.service_port);
  json.String("port_category", socket.HasPorts() ? PortCategoryName(socket.port_category) : "none");
  json.String("exposure", ExposureName(socket.exposure));
  json.String("direction", DirectionName(socket.direction));
  json.String("remote_class", AddressClassName(socket.remote_class));
}

}  // namespace

void AppendSocketJson(std::string& out, const Snapshot& snapshot, const Socket& socket) {
  JsonObjectWriter json(out);
  AppendFields(json, snapshot, socket);
}

namespace {

// Appends the array to out, calling flush(out) whenever it holds more than flush_bytes.
template <typename Flush>
bool EmitArray(std::string& out, const Snapshot& snapshot, const std::vector<uint32_t>& rows,
               size_t flush_bytes, const ExtraJsonFields& extra, Flush flush) {
  out += '[';
  for (size_t i = 0; i < rows.size(); ++i) {
    out += i == 0 ? "\n" : ",\n";
    {
      JsonObjectWriter json(out);
      if (extra) extra(rows[i], json);
      AppendFields(json, snapshot, snapshot.sockets[rows[i]]);
    }
    if (out.size() >= flush_bytes && !flush(out)) return false;
  }
  out += rows.empty() ? "]\n" : "\n]\n";
  return flush(out);
}

}  // namespace

void AppendSocketJsonArray(std::string& out, const Snapshot& snapshot,
                           const std::vector<uint32_t>& rows, const ExtraJsonFields& extra) {
  EmitArray(out, snapshot, rows, SIZE_MAX, extra, [](std::string&) { return true; });
}

bool WriteSocketJsonArray(std::FILE* out, const Snapshot& snapshot,
                          const std::vector<uint32_t>& rows, const ExtraJsonFields& extra) {
  constexpr size_t kFlushBytes = 256 * 1024;
  std::string buffer;
  buffer.reserve(kFlushBytes + 4096);
  const bool written =
      EmitArray(buffer, snapshot, rows, kFlushBytes, extra, [out](std::string& chunk) {
        const bool ok = std::fwrite(chunk.data(), 1, chunk.size(), out) == chunk.size();
        chunk.clear();
        return ok;
      });
  return written && std::fflush(out) == 0;
}

}  // namespace portwatch::api
