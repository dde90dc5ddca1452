// `portwatch who PORT[/tcp|/udp]`: who holds a port, and what that means for "address already in
// use", "connection refused" and "permission denied".

#include <fmt/format.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/cli/commands.h"
#include "agent/cli/exit_codes.h"
#include "agent/cli/json_text.h"
#include "agent/cli/port_argument.h"
#include "agent/cli/socket_json.h"
#include "agent/cli/socket_table.h"
#include "collectors/collector.h"

namespace portwatch::agent {

using namespace collectors;

namespace {

struct WhoFlags {
  std::string port;
  bool json = false;
};

// What one process (or the kernel) does with the port.
struct Holder {
  const Process* process = nullptr;  // nullptr: no owner, see status
  OwnerStatus status = OwnerStatus::kKnown;
  std::vector<std::string> listening;           // "0.0.0.0:22 (tcp, all interfaces)"
  std::map<std::string_view, int> connections;  // state name -> count
};

struct Answer {
  PortArgument query;
  std::vector<uint32_t> rows;  // sockets whose local port is the queried one
  std::vector<Holder> holders;
  Exposure widest = Exposure::kNone;            // the widest exposure of any listener
  std::vector<std::string> specific_addresses;  // listeners bound to one address
  bool has_listener = false;
  int time_wait = 0;  // connections on the port waiting out TIME_WAIT
};

std::string_view ExposurePhrase(Exposure exposure) {
  switch (exposure) {
    case Exposure::kAll:
      return "all interfaces";
    case Exposure::kAddress:
      return "one address";
    case Exposure::kLoopback:
      return "loopback only";
    case Exposure::kNone:
      break;
  }
  return "no address";
}

int Rank(Exposure exposure) {
  switch (exposure) {
    case Exposure::kAll:
      return 3;
    case Exposure::kAddress:
      return 2;
    case Exposure::kLoopback:
      return 1;
    case Exposure::kNone:
      break;
  }
  return 0;
}

Answer Investigate(const Snapshot& snapshot, const PortArgument& query) {
  Answer answer;
  answer.query = query;
  std::map<uint64_t, size_t> holder_index;  // process index (or status code) -> holders slot
  const auto slot_for = [&](uint64_t key) -> Holder& {
    auto [it, added] = holder_index.emplace(key, answer.holders.size());
    if (added) answer.holders.emplace_back();
    return answer.holders[it->second];
  };
  for (uint32_t i = 0; i < snapshot.sockets.size(); ++i) {
    const Socket& socket = snapshot.sockets[i];
    if (socket.family == Family::kUnspec || socket.local.port != query.port) continue;
    if (query.protocol && socket.protocol != *query.protocol) continue;
    if (socket.protocol != Protocol::kTcp && socket.protocol != Protocol::kUdp) continue;
    answer.rows.push_back(i);
    if (socket.state == SocketState::kTimeWait) ++answer.time_wait;

    const bool listener = socket.direction == Direction::kListen;
    if (listener) {
      answer.has_listener = true;
      if (Rank(socket.exposure) > Rank(answer.widest)) answer.widest = socket.exposure;
      if (socket.exposure == Exposure::kAddress) {
        answer.specific_addresses.push_back(socket.local.address.ToString());
      }
    }
    std::string description;
    if (listener) {
      description =
          fmt::format("{} ({}, {}{})", FormatLocal(socket), ProtocolName(socket.protocol),
                      ExposurePhrase(socket.exposure),
                      socket.family == Family::kIpv6 && socket.local.address.IsUnspecified()
                          ? (socket.v6only ? ", IPv6 only" : ", IPv4 and IPv6")
                          : "");
    }
    const auto record = [&](Holder& holder) {
      if (listener) {
        holder.listening.push_back(description);
      } else {
        ++holder.connections[StateName(socket.protocol, socket.state)];
      }
    };
    const auto owners = snapshot.Owners(socket);
    if (owners.empty()) {
      Holder& holder = slot_for((uint64_t{1} << 40) | static_cast<uint64_t>(socket.owner_status));
      holder.status = socket.owner_status;
      record(holder);
    }
    for (uint32_t owner : owners) {
      Holder& holder = slot_for(owner);
      holder.process = &snapshot.processes[owner];
      record(holder);
    }
  }
  return answer;
}

std::string PortLabel(const PortArgument& query) {
  return query.protocol ? fmt::format("{}/{}", query.port, ProtocolName(*query.protocol))
                        : std::to_string(query.port);
}

std::string ReachabilityText(const Answer& answer) {
  if (!answer.has_listener) {
    return "nothing listens on it, so connecting to it gets \"connection refused\"";
  }
  switch (answer.widest) {
    case Exposure::kAll:
      return "yes, it listens on all interfaces (a firewall may still block it)";
    case Exposure::kAddress:
      return fmt::format(
          "only through {}; connections to other addresses of this host get "
          "\"connection refused\"",
          fmt::join(answer.specific_addresses, ", "));
    case Exposure::kLoopback:
      return "no, it listens on loopback only: other hosts get \"connection refused\"; bind "
             "0.0.0.0 or a host address to serve them";
    case Exposure::kNone:
      break;
  }
  return "unknown";
}

std::string HolderName(const Holder& holder) {
  if (holder.process) {
    return fmt::format("{} (pid {}, user {}{}{})", holder.process->name, holder.process->pid,
                       holder.process->user, holder.process->exe.empty() ? "" : ", ",
                       holder.process->exe + (holder.process->exe_deleted ? " (deleted)" : ""));
  }
  switch (holder.status) {
    case OwnerStatus::kKernel:
      return "the kernel (no process: TIME_WAIT or closed by its process)";
    case OwnerStatus::kNoPermission:
      return "an unknown process (no permission to read other processes; run as root)";
    default:
      return "a process that has just exited";
  }
}

void PrintText(const Answer& answer) {
  const uint16_t port = answer.query.port;
  const std::string_view service =
      ServiceName(port, answer.query.protocol.value_or(Protocol::kTcp));
  const PortCategory category = CategorizePort(port);
  std::string out;
  auto line = std::back_inserter(out);
  if (answer.rows.empty()) {
    fmt::format_to(line,
                   "Nothing holds port {}. Binding it should succeed; connecting to it gets "
                   "\"connection refused\".\n",
                   PortLabel(answer.query));
  } else {
    fmt::format_to(line, "Port {} is held by:\n", PortLabel(answer.query));
    for (const Holder& holder : answer.holders) {
      fmt::format_to(line, "  {}\n", HolderName(holder));
      for (const std::string& listening : holder.listening) {
        fmt::format_to(line, "    listening on {}\n", listening);
      }
      for (const auto& [state, count] : holder.connections) {
        fmt::format_to(line, "    {} connection{} in {}\n", count, count == 1 ? "" : "s", state);
      }
    }
    fmt::format_to(line, "Reachable from other hosts: {}.\n", ReachabilityText(answer));
    if (answer.has_listener) {
      fmt::format_to(line,
                     "Binding it again fails with \"address already in use\" (unless every "
                     "holder sets SO_REUSEPORT).\n");
    } else if (answer.time_wait > 0) {
      fmt::format_to(line,
                     "A server binding it may get \"address already in use\" until {} in "
                     "TIME_WAIT {} (about 60 s), unless it sets SO_REUSEADDR.\n",
                     answer.time_wait == 1 ? "the connection"
                                           : fmt::format("the {} connections", answer.time_wait),
                     answer.time_wait == 1 ? "expires" : "expire");
    }
  }
  fmt::format_to(line, "Usual service: {}.\n", service.empty() ? "none known" : service);
  fmt::format_to(line, "Category: {}.\n", PortCategoryMeaning(category));
  if (category == PortCategory::kWellKnown) {
    fmt::format_to(line,
                   "Privileged: yes, port {} < 1024; binding it as an ordinary user gets "
                   "\"permission denied\".\n",
                   port);
  } else {
    fmt::format_to(line, "Privileged: no, any user may bind port {}.\n", port);
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
}

void PrintJson(const Snapshot& snapshot, const Answer& answer) {
  const uint16_t port = answer.query.port;
  const PortCategory category = CategorizePort(port);
  std::string holders = "[";
  for (const Holder& holder : answer.holders) {
    if (holders.size() > 1) holders += ',';
    JsonObjectWriter json(holders);
    json.Number("pid", holder.process ? std::optional<int64_t>(holder.process->pid) : std::nullopt);
    json.StringOrNull("process", holder.process ? std::string_view(holder.process->name) : "");
    json.StringOrNull("user", holder.process ? std::string_view(holder.process->user) : "");
    json.StringOrNull("exe", holder.process ? std::string_view(holder.process->exe) : "");
    json.String("owner_status", OwnerStatusName(holder.status));
    std::string listening = "[";
    for (const std::string& entry : holder.listening) {
      if (listening.size() > 1) listening += ',';
      AppendJsonString(listening, entry);
    }
    listening += ']';
    json.Raw("listening", listening);
    int connections = 0;
    for (const auto& entry : holder.connections) connections += entry.second;
    json.Number("connections", connections);
  }
  holders += ']';
  std::string sockets;
  AppendSocketJsonArray(sockets, snapshot, answer.rows);

  std::string out;
  {
    JsonObjectWriter json(out);
    json.Number("port", port);
    json.StringOrNull("protocol",
                      answer.query.protocol ? ProtocolName(*answer.query.protocol) : "");
    json.Bool("held", !answer.rows.empty());
    json.Bool("listening", answer.has_listener);
    json.StringOrNull("service", ServiceName(port, answer.query.protocol.value_or(Protocol::kTcp)));
    json.String("port_category", PortCategoryName(category));
    json.String("category_meaning", PortCategoryMeaning(category));
    json.Bool("privileged", category == PortCategory::kWellKnown);
    json.String("exposure", answer.has_listener ? ExposureName(answer.widest) : "none");
    json.Bool("reachable_from_other_hosts",
              answer.has_listener && Rank(answer.widest) >= Rank(Exposure::kAddress));
    json.String("reachability", ReachabilityText(answer));
    json.Raw("holders", holders);
    json.Raw("sockets", sockets);
  }
  out += '\n';
  std::fwrite(out.data(), 1, out.size(), stdout);
}

int RunWho(const WhoFlags& flags) {
  Result<PortArgument> query = ParsePortArgument(flags.port, true);
  if (!query) {
    fmt::print(stderr, "portwatch who: {}\n", query.error().message);
    return kExitUsage;
  }
  CollectorOptions options;
  options.raw = false;
  options.packet = false;
  if (query->protocol) {
    options.tcp = *query->protocol == Protocol::kTcp;
    options.udp = *query->protocol == Protocol::kUdp;
  }
  Result<Snapshot> snapshot = MakeCollector(options)->Collect();
  if (!snapshot) {
    fmt::print(stderr, "portwatch who: {}\n", snapshot.error().message);
    return kExitFailure;
  }
  for (const std::string& warning : snapshot->warnings) {
    fmt::print(stderr, "portwatch who: warning: {}\n", warning);
  }
  const Answer answer = Investigate(*snapshot, *query);
  if (flags.json) {
    PrintJson(*snapshot, answer);
  } else {
    PrintText(answer);
  }
  std::fflush(stdout);
  return answer.rows.empty() ? kExitNotFound : kExitOk;
}

}  // namespace

void AddWhoCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<WhoFlags>();
  CLI::App* command = app.add_subcommand(
      "who", "Who holds a port, and whether other hosts can reach it (like lsof -i :PORT)");
  command->add_option("port", flags->port, "PORT, PORT/tcp or PORT/udp")->required();
  command->add_flag("--json", flags->json, "Print the answer as one JSON object");
  command->footer(
      "Exit status: 0 when something holds the port, 1 when nothing does, 2 on bad input.");
  command->callback([flags, &exit_code] { exit_code = RunWho(*flags); });
}

}  // namespace portwatch::agent
