#include "api/snapshot_view.h"

#include <algorithm>
#include <unordered_map>
#include <vector>

#include "api/json_text.h"
#include "api/socket_json.h"
#include "collectors/time_text.h"
#include "store/history_writer.h"

namespace portwatch::api {

using namespace collectors;

SnapshotView::SnapshotView(std::shared_ptr<const Snapshot> snapshot, int64_t sequence)
    : snapshot_(std::move(snapshot)),
      sequence_(sequence),
      taken_at_(store::ToMillis(snapshot_->taken_at)) {}

const std::string& SnapshotView::ListenersJson() const {
  std::call_once(listeners_once_, [this] {
    const Snapshot& snapshot = *snapshot_;
    // A program is what the listener's primary owner runs (its executable, else its name) and
    // as whom; sockets without an owner group by why they have none.
    struct Group {
      const Process* owner = nullptr;
      OwnerStatus status = OwnerStatus::kKnown;
      std::vector<uint32_t> rows;
      std::vector<int32_t> pids;
      Exposure widest = Exposure::kNone;
    };
    std::vector<Group> groups;
    std::unordered_map<std::string, size_t> index;
    for (uint32_t row = 0; row < snapshot.sockets.size(); ++row) {
      const Socket& socket = snapshot.sockets[row];
      if (socket.direction != Direction::kListen || !socket.HasPorts()) continue;
      const Process* owner = snapshot.PrimaryOwner(socket);
      std::string key = owner ? (owner->exe.empty() ? owner->name : owner->exe) + '\0' + owner->user
                              : std::string(OwnerStatusName(socket.owner_status));
      auto [it, added] = index.emplace(std::move(key), groups.size());
      if (added) groups.push_back({owner, socket.owner_status, {}, {}, Exposure::kNone});
      Group& group = groups[it->second];
      group.rows.push_back(row);
      if (WiderThan(socket.exposure, group.widest)) group.widest = socket.exposure;
      for (uint32_t process : snapshot.Owners(socket)) {
        const int32_t pid = snapshot.processes[process].pid;
        if (std::find(group.pids.begin(), group.pids.end(), pid) == group.pids.end()) {
          group.pids.push_back(pid);
        }
      }
    }
    for (Group& group : groups) std::sort(group.pids.begin(), group.pids.end());
    // The widest exposure first, then by program name: what is open to the world stands out.
    std::sort(groups.begin(), groups.end(), [](const Group& a, const Group& b) {
      if (a.widest != b.widest) {
        return WiderThan(a.widest, b.widest);
      }
      const std::string_view a_name = a.owner ? std::string_view(a.owner->name) : "";
      const std::string_view b_name = b.owner ? std::string_view(b.owner->name) : "";
      return a_name < b_name;
    });
    std::string& out = listeners_json_;
    size_t listeners = 0;
    out = "{\"taken_at\":";
    AppendJsonString(out, FormatIsoTime(taken_at_));
    out += ",\"programs\":[";
    for (size_t i = 0; i < groups.size(); ++i) {
      const Group& group = groups[i];
      listeners += group.rows.size();
      if (i > 0) out += ',';
      std::string pids = "[";
      for (size_t p = 0; p < group.pids.size(); ++p) {
        if (p > 0) pids += ',';
        pids += std::to_string(group.pids[p]);
      }
      pids += ']';
      std::string sockets;
      AppendSocketJsonArray(sockets, snapshot, group.rows);
      while (!sockets.empty() && sockets.back() == '\n') sockets.pop_back();
      JsonObjectWriter json(out);
      json.StringOrNull("program", group.owner ? std::string_view(group.owner->name) : "");
      json.StringOrNull("exe", group.owner ? std::string_view(group.owner->exe) : "");
      json.StringOrNull("user", group.owner ? std::string_view(group.owner->user) : "");
      json.StringOrNull("cmdline", group.owner ? std::string_view(group.owner->cmdline) : "");
      json.String("owner_status", OwnerStatusName(group.status));
      json.Raw("pids", pids);
      json.String("exposure", ExposureName(group.widest));
      json.Number("count", static_cast<int64_t>(group.rows.size()));
      json.Raw("listeners", sockets);
    }
    out += "],\"total\":" + std::to_string(listeners) + "}";
  });
  return listeners_json_;
}

const std::string& SnapshotView::ProcessesJson() const {
  std::call_once(processes_once_, [this] {
    const Snapshot& snapshot = *snapshot_;
    struct Counts {
      int64_t sockets = 0, listeners = 0, connections = 0, tcp = 0, udp = 0;
    };
    std::vector<Counts> counts(snapshot.processes.size());
    for (const Socket& socket : snapshot.sockets) {
      for (uint32_t process : snapshot.Owners(socket)) {
        Counts& c = counts[process];
        ++c.sockets;
        if (socket.direction == Direction::kListen) ++c.listeners;
        if (socket.state == SocketState::kEstablished) ++c.connections;
        if (socket.protocol == Protocol::kTcp) ++c.tcp;
        if (socket.protocol == Protocol::kUdp) ++c.udp;
      }
    }
    std::vector<uint32_t> order(snapshot.processes.size());
    for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
      if (counts[a].sockets != counts[b].sockets) return counts[a].sockets > counts[b].sockets;
      return snapshot.processes[a].pid < snapshot.processes[b].pid;
    });
    std::string& out = processes_json_;
    out = "{\"taken_at\":";
    AppendJsonString(out, FormatIsoTime(taken_at_));
    out += ",\"processes\":[";
    for (size_t i = 0; i < order.size(); ++i) {
      const Process& process = snapshot.processes[order[i]];
      const Counts& c = counts[order[i]];
      if (i > 0) out += ",\n";
      JsonObjectWriter json(out);
      json.Number("pid", process.pid);
      json.Number("ppid", process.ppid);
      json.String("name", process.name);
      json.StringOrNull("exe", process.exe);
      json.Bool("exe_deleted", process.exe_deleted);
      json.StringOrNull("cmdline", process.cmdline);
      json.StringOrNull("user", process.user);
      json.Number("uid", int64_t{process.uid});
      json.Number("sockets", c.sockets);
      json.Number("listeners", c.listeners);
      json.Number("connections", c.connections);
      json.Number("tcp", c.tcp);
      json.Number("udp", c.udp);
    }
    out += "],\"total\":" + std::to_string(order.size()) + "}";
  });
  return processes_json_;
}

const SocketCounts& SnapshotView::Counts() const {
  std::call_once(counts_once_, [this] {
    for (const Socket& socket : snapshot_->sockets) {
      const auto protocol = static_cast<size_t>(socket.protocol);
      const auto state = static_cast<size_t>(socket.state);
      if (protocol < counts_.by_state.size() && state < counts_.by_state[protocol].size()) {
        ++counts_.by_state[protocol][state];
      }
      if (socket.direction == Direction::kListen) {
        ++counts_.listeners_by_exposure[std::string(ExposureName(socket.exposure))];
      }
    }
    counts_.sample = store::CountSample(*snapshot_, taken_at_);
  });
  return counts_;
}

}  // namespace portwatch::api
