// `portwatch history`: questions about the past, answered from the history database.

#include <fmt/format.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "agent/cli/command_errors.h"
#include "agent/cli/commands.h"
#include "agent/cli/exit_codes.h"
#include "agent/cli/port_argument.h"
#include "agent/cli/socket_table.h"
#include "agent/cli/state_paths.h"
#include "api/history_json.h"
#include "api/socket_json.h"
#include "collectors/cidr.h"
#include "collectors/parse_number.h"
#include "collectors/time_text.h"
#include "store/database.h"
#include "store/history_writer.h"
#include "store/queries.h"

namespace portwatch::agent {

namespace {

struct HistoryFlags {
  std::string db;
  std::string at;
  std::string remote;
  std::string port;
  bool events = false;
  bool samples = false;
  std::string step = "1m";
  std::optional<std::string> socket;
  std::string since = "24h";
  std::string until = "now";
  bool json = false;
};

constexpr CommandErrors kErrors{"history"};

std::vector<uint32_t> AllRows(const store::History& history) {
  std::vector<uint32_t> rows(history.snapshot.sockets.size());
  for (uint32_t i = 0; i < rows.size(); ++i) rows[i] = i;
  return rows;
}

std::string ClosedText(const std::optional<int64_t>& closed_at) {
  return closed_at ? collectors::FormatLocalTime(*closed_at) : std::string("open");
}

// Sockets with their lifetimes: the snapshot table with OPENED and CLOSED in front.
bool PrintLifetimes(const store::History& history, bool json) {
  const std::vector<uint32_t> rows = AllRows(history);
  if (json) {
    return api::WriteSocketJsonArray(stdout, history.snapshot, rows, api::LifetimeFields(history));
  }
  LeadColumns lead;
  lead.header = fmt::format("{:<8} {:<19} {:<19} ", "ID", "OPENED", "CLOSED");
  lead.cell = [&](uint32_t row) {
    return fmt::format("{:<8} {:<19} {:<19} ", history.ids[row],
                       collectors::FormatLocalTime(history.opened_at[row]),
                       ClosedText(history.closed_at[row]));
  };
  return WriteSocketTable(stdout, history.snapshot, rows, lead);
}

bool PrintEvents(const store::ListenerEvents& events, bool json) {
  if (json) {
    std::string out;
    api::AppendListenerEventsJson(out, events);
    return std::fwrite(out.data(), 1, out.size(), stdout) == out.size() && std::fflush(stdout) == 0;
  }
  std::map<int64_t, uint32_t> row_of;
  for (uint32_t i = 0; i < events.sockets.ids.size(); ++i) row_of[events.sockets.ids[i]] = i;
  const collectors::Snapshot& snapshot = events.sockets.snapshot;
  std::vector<uint32_t> rows;
  for (const store::ListenerEvent& event : events.events) rows.push_back(row_of[event.socket_id]);
  size_t next = 0;
  LeadColumns lead;
  lead.header = fmt::format("{:<19} {:<12} ", "TIME", "EVENT");
  lead.cell = [&](uint32_t) {
    const store::ListenerEvent& event = events.events[next++];
    return fmt::format("{:<19} {:<12} ", collectors::FormatLocalTime(event.at),
                       event.appeared ? "appeared" : "disappeared");
  };
  return WriteSocketTable(stdout, snapshot, rows, lead);
}

// Counts over time, the maximum of each within a step.
bool PrintSamples(const std::vector<store::Sample>& samples, bool json) {
  std::string out;
  if (json) {
    api::AppendSamplesJson(out, samples);
  } else {
    constexpr std::string_view kRow =
        "{:<19} {:>8} {:>8} {:>8} {:>6} {:>7} {:>9} {:>11} {:>9} {:>12}\n";
    fmt::format_to(std::back_inserter(out), kRow, "TIME", "SOCKETS", "TCP", "UDP", "RAW", "PACKET",
                   "LISTENERS", "ESTABLISHED", "TIME_WAIT", "REMOTE_HOSTS");
    for (const store::Sample& sample : samples) {
      fmt::format_to(std::back_inserter(out), kRow, collectors::FormatLocalTime(sample.at),
                     sample.sockets, sample.tcp, sample.udp, sample.raw, sample.packet,
                     sample.listeners, sample.established, sample.time_wait, sample.remote_hosts);
    }
  }
  return std::fwrite(out.data(), 1, out.size(), stdout) == out.size() && std::fflush(stdout) == 0;
}

int RunHistory(const HistoryFlags& flags) {
  // 1. Exactly one question, with valid arguments.
  const int questions = !flags.at.empty() + !flags.remote.empty() + !flags.port.empty() +
                        int{flags.events} + int{flags.samples} + int{flags.socket.has_value()};
  if (questions != 1) {
    return kErrors.Usage(
        "ask one question: --at TIME, --remote ADDR|CIDR, --port N, --events, --samples or "
        "--socket ID");
  }
  Result<int64_t> step = collectors::ParseDuration(flags.step);
  if (!step || *step <= 0) {
    return kErrors.Usage(
        fmt::format("--step: {}", step ? "the step must be positive" : step.error().message));
  }
  const int64_t now = store::ToMillis(std::chrono::system_clock::now());
  Result<int64_t> since = collectors::ParseSince(flags.since, now);
  if (!since) return kErrors.Usage(fmt::format("--since: {}", since.error().message));
  Result<int64_t> until = collectors::ParseMoment(flags.until, now);
  if (!until) return kErrors.Usage(fmt::format("--until: {}", until.error().message));
  if (*since > *until) return kErrors.Usage("--since is after --until; the range is empty");
  const store::TimeRange range{*since, *until};

  std::optional<int64_t> at;
  if (!flags.at.empty()) {
    Result<int64_t> moment = collectors::ParseMoment(flags.at, now);
    if (!moment) return kErrors.Usage(fmt::format("--at: {}", moment.error().message));
    at = *moment;
  }
  std::optional<collectors::Cidr> block;
  if (!flags.remote.empty()) {
    Result<collectors::Cidr> parsed = collectors::Cidr::Parse(flags.remote);
    if (!parsed) return kErrors.Usage(fmt::format("--remote: {}", parsed.error().message));
    block = *parsed;
  }
  std::optional<uint16_t> port;
  if (!flags.port.empty()) {
    Result<PortArgument> parsed = ParsePortArgument(flags.port, false);
    if (!parsed) return kErrors.Usage(fmt::format("--port: {}", parsed.error().message));
    if (parsed->port == 0) return kErrors.Usage("--port: 0 is not a port a socket is known by");
    port = parsed->port;
  }
  int64_t socket_id = 0;
  if (flags.socket && (!collectors::ParseNumber(*flags.socket, socket_id) || socket_id <= 0)) {
    return kErrors.Usage(
        fmt::format("--socket: '{}' is not a socket id (a number above 0, as "
                    "listed in the ID column)",
                    *flags.socket));
  }

  // 2. The answer.
  const std::string path = flags.db.empty() ? DefaultDatabasePath() : flags.db;
  Result<store::Database> db = store::Database::Open(path, store::Database::Mode::kReadOnly);
  if (!db) return kErrors.Failure(db.error().message);
  bool printed = false;
  if (at) {
    Result<store::History> state = store::StateAt(*db, *at);
    if (!state) return kErrors.Failure(state.error().message);
    const std::vector<uint32_t> rows = AllRows(*state);
    printed = flags.json ? api::WriteSocketJsonArray(stdout, state->snapshot, rows)
                         : WriteSocketTable(stdout, state->snapshot, rows);
  } else if (block || port) {
    Result<store::History> found =
        block ? store::ConnectionsWith(*db, *block, range) : store::PortHistory(*db, *port, range);
    if (!found) return kErrors.Failure(found.error().message);
    printed = PrintLifetimes(*found, flags.json);
  } else if (flags.samples) {
    Result<std::vector<store::Sample>> samples = store::SamplesIn(*db, range, *step);
    if (!samples) return kErrors.Failure(samples.error().message);
    printed = PrintSamples(*samples, flags.json);
  } else if (flags.events) {
    Result<store::ListenerEvents> events = store::ListenerEventsIn(*db, range);
    if (!events) return kErrors.Failure(events.error().message);
    printed = PrintEvents(*events, flags.json);
  } else {
    Result<store::Lifetime> lifetime = store::SocketLifetime(*db, socket_id);
    if (!lifetime) return kErrors.Failure(lifetime.error().message);
    printed = PrintLifetimes(lifetime->socket, flags.json);
    if (printed && !flags.json) {
      for (const store::StateChange& change : lifetime->changes) {
        fmt::print(
            "  {}  {}\n", collectors::FormatLocalTime(change.at),
            collectors::StateName(lifetime->socket.snapshot.sockets[0].protocol, change.state));
      }
    }
  }
  if (!printed) return kErrors.Failure("cannot write output");
  return kExitOk;
}

}  // namespace

void AddHistoryCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<HistoryFlags>();
  CLI::App* command = app.add_subcommand(
      "history", "What was listening and who was connected, from the history database");
  command->add_option("--db", flags->db,
                      "History database (default: " + DefaultDatabasePath() + ")");
  command->add_option("--at", flags->at,
                      "Sockets open at TIME (2026-11-24 03:10, -2h, yesterday 03:10)");
  command->add_option("--remote", flags->remote, "Connections to or from ADDR or CIDR");
  command->add_option("--port", flags->port, "Sockets with this local or remote port");
  command->add_flag("--events", flags->events, "Listeners that appeared or disappeared");
  command->add_flag("--samples", flags->samples, "Socket counts over time, one row per --step");
  command->add_option("--step", flags->step, "Resolution of --samples (default 1m)");
  command->add_option("--socket", flags->socket, "One socket's lifetime, by id");
  command->add_option("--since", flags->since,
                      "Start of the range: 24h, 7d or a time (default 24h)");
  command->add_option("--until", flags->until, "End of the range (default now)");
  command->add_flag("--json", flags->json,
                    "Print one JSON array (the snapshot keys, plus id, opened_at, closed_at)");
  command->callback([flags, &exit_code] { exit_code = RunHistory(*flags); });
}

}  // namespace portwatch::agent
