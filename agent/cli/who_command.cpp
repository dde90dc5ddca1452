// `portwatch who PORT[/tcp|/udp]`: who holds a port, and what that means for "address already in
// use", "connection refused" and "permission denied".

#include <fmt/format.h>

#include <memory>
#include <string>
#include <vector>

#include "agent/cli/commands.h"
#include "agent/cli/exit_codes.h"
#include "agent/cli/port_argument.h"
#include "api/port_json.h"
#include "collectors/collector.h"
#include "collectors/port_report.h"
#include "collectors/untrusted_text.h"

namespace portwatch::agent {

using namespace collectors;

namespace {

struct WhoFlags {
  std::string port;
  bool json = false;
};

std::string HolderName(const PortHolder& holder) {
  if (holder.process) {
    const collectors::Process& process = *holder.process;
    return fmt::format("{} (pid {}, user {}{}{}{})", collectors::EscapeUntrusted(process.name),
                       process.pid, collectors::EscapeUntrusted(process.user),
                       process.exe.empty() ? "" : ", ", collectors::EscapeUntrusted(process.exe),
                       process.exe_deleted ? " (deleted)" : "");
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

void PrintText(const PortReport& answer) {
  const uint16_t port = answer.port;
  const std::string_view service = answer.Service();
  const PortCategory category = CategorizePort(port);
  std::string out;
  auto line = std::back_inserter(out);
  if (answer.rows.empty()) {
    fmt::format_to(line,
                   "Nothing holds port {}. Binding it should succeed; connecting to it gets "
                   "\"connection refused\".\n",
                   answer.Label());
  } else {
    fmt::format_to(line, "Port {} is held by:\n", answer.Label());
    for (const PortHolder& holder : answer.holders) {
      fmt::format_to(line, "  {}\n", HolderName(holder));
      for (const std::string& listening : holder.listening) {
        fmt::format_to(line, "    listening on {}\n", listening);
      }
      for (const auto& [state, count] : holder.connections) {
        fmt::format_to(line, "    {} connection{} in {}\n", count, count == 1 ? "" : "s", state);
      }
    }
    fmt::format_to(line, "Reachable from other hosts: {}.\n", answer.Reachability());
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

void PrintJson(const Snapshot& snapshot, const PortReport& report) {
  std::string out;
  api::AppendPortReportJson(out, snapshot, report);
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
  const PortReport answer = ReportPort(*snapshot, query->port, query->protocol);
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
