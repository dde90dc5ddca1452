// `portwatch snapshot`: every socket and its owner, as a table or JSON.

#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "agent/cli/commands.h"
#include "agent/cli/exit_codes.h"
#include "agent/cli/port_argument.h"
#include "agent/cli/socket_table.h"
#include "api/socket_json.h"
#include "collectors/collector.h"
#include "collectors/parse_number.h"
#include "collectors/socket_filter.h"

namespace portwatch::agent {

namespace {

struct SnapshotFlags {
  collectors::SocketFilter filter;
  std::optional<std::string> port;
  std::optional<std::string> state;
  std::optional<std::string> pid;
  bool json = false;
  bool no_owners = false;
};

int RunSnapshot(SnapshotFlags& flags) {
  if (flags.pid) {
    int32_t pid = 0;
    const std::string& text = *flags.pid;
    if (!collectors::ParseNumber(text, pid) || pid <= 0) {
      fmt::print(stderr, "portwatch snapshot: --pid: '{}' is not a process id (a number above 0)\n",
                 text);
      return kExitUsage;
    }
    flags.filter.pid = pid;
  }
  if (flags.port) {
    Result<PortArgument> port = ParsePortArgument(*flags.port, false);
    if (!port) {
      fmt::print(stderr, "portwatch snapshot: --port: {}\n", port.error().message);
      return kExitUsage;
    }
    flags.filter.port = port->port;
  }
  if (flags.state) {
    const collectors::SocketState state = collectors::ParseStateName(*flags.state);
    if (state == collectors::SocketState::kUnknown) {
      fmt::print(stderr,
                 "portwatch snapshot: --state: unknown state '{}'; use LISTEN, ESTABLISHED, "
                 "TIME_WAIT, SYN_SENT, CLOSE_WAIT, UNCONN, ...\n",
                 *flags.state);
      return kExitUsage;
    }
    flags.filter.state = state;
  }

  collectors::CollectorOptions options;
  options.owners = !flags.no_owners;
  flags.filter.Restrict(options);
  std::unique_ptr<collectors::Collector> collector = collectors::MakeCollector(options);
  Result<collectors::Snapshot> snapshot = collector->Collect();
  if (!snapshot) {
    fmt::print(stderr, "portwatch snapshot: {}\n", snapshot.error().message);
    return kExitFailure;
  }
  for (const std::string& warning : snapshot->warnings) {
    fmt::print(stderr, "portwatch snapshot: warning: {}\n", warning);
  }

  std::vector<uint32_t> rows;
  rows.reserve(snapshot->sockets.size());
  for (uint32_t i = 0; i < snapshot->sockets.size(); ++i) {
    if (flags.filter.Matches(*snapshot, snapshot->sockets[i])) rows.push_back(i);
  }

  bool written = false;
  if (flags.json) {
    written = api::WriteSocketJsonArray(stdout, *snapshot, rows);
  } else {
    written = WriteSocketTable(stdout, *snapshot, rows);
  }
  if (!written) {
    // A closed pipe (`| head`) is not worth a message; anything else is.
    if (errno != EPIPE) fmt::print(stderr, "portwatch snapshot: cannot write output\n");
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

void AddSnapshotCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<SnapshotFlags>();
  CLI::App* command = app.add_subcommand(
      "snapshot", "List every socket with the process that owns it (like ss -tulpn)");
  command->add_flag("-l,--listening", flags->filter.listening,
                    "Only listeners (TCP LISTEN, bound UDP, raw and packet sockets)");
  command->add_flag("-t,--tcp", flags->filter.tcp, "TCP sockets");
  command->add_flag("-u,--udp", flags->filter.udp, "UDP sockets");
  command->add_flag("-w,--raw", flags->filter.raw, "Raw IP sockets");
  command->add_flag("-0,--packet", flags->filter.packet, "Packet (AF_PACKET) sockets");
  command->add_option("-p,--port", flags->port, "Only sockets with this local or remote port");
  command->add_option("--pid", flags->pid, "Only sockets held by this process id");
  command->add_option("--process", flags->filter.process,
                      "Only sockets held by a process with this name");
  command->add_option("-s,--state", flags->state,
                      "Only sockets in this state (LISTEN, ESTAB, ...)");
  command->add_flag("--json", flags->json, "Print one JSON array of flat objects");
  command->add_flag("--no-owners", flags->no_owners,
                    "Skip the owner lookup (faster; pid and process are null)");
  command->callback([flags, &exit_code] { exit_code = RunSnapshot(*flags); });
}

}  // namespace portwatch::agent
