// `portwatch alerts`: list the alerts the agent raised, and act on one: acknowledge, silence for
// a while, or accept what it is about (its rules on its subject, at their severity, with that
// executable); list and undo acceptances. Reads and writes the agent's database; the running
// agent picks the actions up within an interval.

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "agent/cli/command_errors.h"
#include "agent/cli/commands.h"
#include "agent/cli/delivery_text.h"
#include "agent/cli/exit_codes.h"
#include "agent/cli/state_paths.h"
#include "agent/rules/rule.h"
#include "api/alert_json.h"
#include "collectors/parse_number.h"
#include "collectors/time_text.h"
#include "collectors/untrusted_text.h"
#include "store/alerts.h"
#include "store/database.h"
#include "store/deliveries.h"
#include "store/history_writer.h"

namespace portwatch::agent {

namespace {

struct AlertsFlags {
  std::string db;
  bool open = false;
  std::string status;
  std::string severity;
  std::string rule;
  std::string limit = "100";
  bool json = false;
  std::string id;        // for show, ack, silence, accept
  std::string duration;  // for silence
};

constexpr CommandErrors kErrors{"alerts"};

int64_t NowMillis() { return store::ToMillis(std::chrono::system_clock::now()); }

std::string SeverityText(int severity) {
  return std::string(rules::SeverityName(static_cast<rules::Severity>(severity)));
}

std::optional<int64_t> ParseId(const std::string& text) {
  int64_t id = 0;
  if (!collectors::ParseNumber(text, id) || id <= 0) return std::nullopt;
  return id;
}

Result<store::Database> OpenDatabase(const AlertsFlags& flags, store::Database::Mode mode) {
  const std::string path = flags.db.empty() ? DefaultDatabasePath() : flags.db;
  if (!std::filesystem::exists(path)) {
    return Error{fmt::format("no database at {}: start the agent first (portwatch agent --db {})",
                             path, path)};
  }
  return store::Database::Open(path, mode);
}

std::string Reasons(const store::Alert& alert, std::string_view separator) {
  nlohmann::json reasons = nlohmann::json::parse(alert.reasons, nullptr, false);
  std::vector<std::string> parts;
  if (reasons.is_array()) {
    for (const auto& reason : reasons) {
      const std::string mitre = reason.value("mitre", "");
      parts.push_back(collectors::EscapeUntrusted(
          fmt::format("{} [{}{}]", reason.value("reason", ""), reason.value("rule", ""),
                      mitre.empty() ? "" : ", " + mitre)));
    }
  }
  return fmt::format("{}", fmt::join(parts, separator));
}

int List(const AlertsFlags& flags) {
  store::AlertFilter filter;
  filter.active_only = flags.open;
  if (!flags.status.empty()) {
    filter.status = store::ParseAlertStatus(flags.status);
    if (!filter.status) {
      return kErrors.Usage(fmt::format(
          "--status '{}' is not a status; use open, acknowledged or resolved", flags.status));
    }
  }
  if (!flags.severity.empty()) {
    const std::optional<rules::Severity> severity = rules::ParseSeverity(flags.severity);
    if (!severity) {
      return kErrors.Usage(
          fmt::format("--severity '{}' is not a severity; use info, low, medium, high or critical",
                      flags.severity));
    }
    filter.min_severity = static_cast<int>(*severity);
  }
  filter.rule = flags.rule;
  if (!collectors::ParseNumber(flags.limit, filter.limit) || filter.limit <= 0 ||
      filter.limit > 100000) {
    return kErrors.Usage(fmt::format("--limit '{}' is not a number from 1 to 100000", flags.limit));
  }
  Result<store::Database> db = OpenDatabase(flags, store::Database::Mode::kReadOnly);
  if (!db) return kErrors.Failure(db.error().message);
  Result<std::vector<store::Alert>> alerts = store::ListAlerts(*db, filter);
  if (!alerts) return kErrors.Failure(alerts.error().message);

  if (flags.json) {
    std::string out = "[";
    for (const store::Alert& alert : *alerts) {
      if (out.size() > 1) out += ",\n";
      out += api::AlertJson(alert);
    }
    fmt::print("{}]\n", out);
    return kExitOk;
  }
  if (alerts->empty()) {
    fmt::print("no alerts{}\n", flags.open ? " open" : "");
    return kExitOk;
  }
  fmt::print("{:>5}  {:<12}  {:<8}  {:>5}  {:<19}  {:<19}  {}\n", "ID", "STATUS", "SEVERITY",
             "SEEN", "FIRST SEEN", "LAST SEEN", "WHAT");
  for (const store::Alert& alert : *alerts) {
    std::string status(store::AlertStatusName(alert.status));
    if (alert.silenced_until && *alert.silenced_until > NowMillis()) status += "*";
    fmt::print("{:>5}  {:<12}  {:<8}  {:>5}  {:<19}  {:<19}  {}\n      {}\n", alert.id, status,
               SeverityText(alert.severity), alert.count,
               collectors::FormatLocalTime(alert.first_seen),
               collectors::FormatLocalTime(alert.last_seen),
               collectors::EscapeUntrusted(alert.title), Reasons(alert, "\n      "));
  }
  return kExitOk;
}

int Show(const AlertsFlags& flags) {
  const std::optional<int64_t> id = ParseId(flags.id);
  if (!id)
    return kErrors.Usage(fmt::format("'{}' is not an alert id (a positive number)", flags.id));
  Result<store::Database> db = OpenDatabase(flags, store::Database::Mode::kReadOnly);
  if (!db) return kErrors.Failure(db.error().message);
  Result<std::optional<store::Alert>> alert = store::FindAlert(*db, *id);
  if (!alert) return kErrors.Failure(alert.error().message);
  if (!*alert) return kErrors.Failure(fmt::format("no alert with id {} in {}", *id, db->path()));
  Result<std::vector<store::AlertEvent>> events = store::AlertEvents(*db, *id);
  if (!events) return kErrors.Failure(events.error().message);
  store::DeliveryFilter filter;
  filter.alert_id = *id;
  filter.limit = 1000;
  Result<std::vector<store::Delivery>> deliveries = store::ListDeliveries(*db, filter);
  if (!deliveries) return kErrors.Failure(deliveries.error().message);
  if (flags.json) {
    nlohmann::json json = api::AlertToJson(**alert);
    json["events"] = nlohmann::json::array();
    for (const store::AlertEvent& event : *events) {
      json["events"].push_back(api::AlertEventToJson(event));
    }
    json["deliveries"] = nlohmann::json::array();
    for (const store::Delivery& delivery : *deliveries) {
      json["deliveries"].push_back(api::DeliveryToJson(delivery));
    }
    fmt::print("{}\n", api::DumpJson(json, 2));
    return kExitOk;
  }
  const store::Alert& shown = **alert;
  fmt::print("alert {}: {}\n", shown.id, collectors::EscapeUntrusted(shown.title));
  fmt::print(
      "  status      {}{}\n", store::AlertStatusName(shown.status),
      shown.silenced_until && *shown.silenced_until > NowMillis()
          ? fmt::format(", silenced until {}", collectors::FormatLocalTime(*shown.silenced_until))
          : "");
  fmt::print("  severity    {}\n", SeverityText(shown.severity));
  fmt::print("  subject     {}\n", collectors::EscapeUntrusted(shown.subject));
  fmt::print("  seen        {} times, first {}, last {}\n", shown.count,
             collectors::FormatLocalTime(shown.first_seen),
             collectors::FormatLocalTime(shown.last_seen));
  fmt::print("  why         {}\n", Reasons(shown, "\n              "));
  for (const store::AlertEvent& event : *events) {
    fmt::print("  {}  {}{}\n", collectors::FormatLocalTime(event.at),
               store::AlertEventKindName(event.kind),
               event.detail.empty() ? "" : " " + collectors::EscapeUntrusted(event.detail));
  }
  if (!deliveries->empty()) fmt::print("  notifications\n");
  for (auto it = deliveries->rbegin(); it != deliveries->rend(); ++it) {
    fmt::print("  {}\n", DeliveryLine(*it));
  }
  return kExitOk;
}

std::string RuleNames(const store::Alert& alert) {
  nlohmann::json reasons = nlohmann::json::parse(alert.reasons, nullptr, false);
  std::vector<std::string> rules;
  if (reasons.is_array()) {
    for (const auto& reason : reasons) rules.push_back(reason.value("rule", ""));
  }
  return fmt::format("{}", fmt::join(rules, ", "));
}

int ListAccepted(const AlertsFlags& flags) {
  Result<store::Database> db = OpenDatabase(flags, store::Database::Mode::kReadOnly);
  if (!db) return kErrors.Failure(db.error().message);
  Result<std::vector<store::Acceptance>> accepted = store::ListAcceptances(*db);
  if (!accepted) return kErrors.Failure(accepted.error().message);
  if (flags.json) {
    std::string out = "[";
    for (const store::Acceptance& acceptance : *accepted) {
      if (out.size() > 1) out += ",\n";
      out += api::DumpJson(api::AcceptanceToJson(acceptance));
    }
    fmt::print("{}]\n", out);
    return kExitOk;
  }
  if (accepted->empty()) {
    fmt::print("nothing accepted\n");
    return kExitOk;
  }
  fmt::print("{:>5}  {:<20}  {:<8}  {:<19}  {:>5}  {}\n", "ID", "RULE", "UP TO", "ACCEPTED",
             "ALERT", "SUBJECT");
  for (const store::Acceptance& acceptance : *accepted) {
    fmt::print("{:>5}  {:<20}  {:<8}  {:<19}  {:>5}  {}\n", acceptance.id, acceptance.rule,
               SeverityText(acceptance.severity),
               collectors::FormatLocalTime(acceptance.accepted_at),
               acceptance.alert_id ? std::to_string(*acceptance.alert_id) : std::string("-"),
               acceptance.subject);
  }
  return kExitOk;
}

int Unaccept(const AlertsFlags& flags) {
  const std::optional<int64_t> id = ParseId(flags.id);
  if (!id) {
    return kErrors.Usage(fmt::format(
        "'{}' is not an acceptance id (a positive number from `portwatch alerts accepted`)",
        flags.id));
  }
  Result<store::Database> db = OpenDatabase(flags, store::Database::Mode::kReadWrite);
  if (!db) return kErrors.Failure(db.error().message);
  Result<store::Acceptance> removed = store::RemoveAcceptance(*db, *id);
  if (!removed) return kErrors.Failure(removed.error().message);
  fmt::print("acceptance {} undone: {} on \"{}\" alerts again\n", *id, removed->rule,
             removed->subject);
  return kExitOk;
}

enum class Action { kAcknowledge, kSilence, kAccept };

int Act(const AlertsFlags& flags, Action action) {
  const std::optional<int64_t> id = ParseId(flags.id);
  if (!id)
    return kErrors.Usage(fmt::format("'{}' is not an alert id (a positive number)", flags.id));
  int64_t duration = 0;
  if (action == Action::kSilence) {
    Result<int64_t> parsed = collectors::ParseDuration(flags.duration);
    if (!parsed) return kErrors.Usage(fmt::format("--for: {}", parsed.error().message));
    duration = *parsed;
  }
  Result<store::Database> db = OpenDatabase(flags, store::Database::Mode::kReadWrite);
  if (!db) return kErrors.Failure(db.error().message);
  const int64_t now = NowMillis();
  Result<store::Alert> done =
      action == Action::kAcknowledge ? store::AcknowledgeAlert(*db, *id, now)
      : action == Action::kSilence   ? store::SilenceAlert(*db, *id, now + duration, now)
                                     : store::AcceptAlert(*db, *id, now);
  if (!done) return kErrors.Failure(done.error().message);
  switch (action) {
    case Action::kAcknowledge:
      fmt::print("alert {} acknowledged: {}\n", *id, collectors::EscapeUntrusted(done->title));
      break;
    case Action::kSilence:
      fmt::print("alert {} silenced until {}: {}\n", *id,
                 collectors::FormatLocalTime(now + duration),
                 collectors::EscapeUntrusted(done->title));
      break;
    case Action::kAccept:
      fmt::print(
          "alert {} accepted: \"{}\" will not be alerted on again for {}; another rule, a higher "
          "severity or another executable still alerts (`portwatch alerts accepted` lists, "
          "`portwatch alerts unaccept ID` undoes)\n",
          *id, collectors::EscapeUntrusted(done->subject), RuleNames(*done));
      break;
  }
  return kExitOk;
}

}  // namespace

void AddAlertsCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<AlertsFlags>();
  CLI::App* command =
      app.add_subcommand("alerts", "List the agent's alerts; acknowledge, silence or accept one");
  command->add_option("--db", flags->db,
                      "History database (default: " + DefaultDatabasePath() + ")");
  command->add_flag("--open", flags->open, "Only alerts still active (open or acknowledged)");
  command->add_option("--status", flags->status, "Only this status: open, acknowledged, resolved");
  command->add_option("--severity", flags->severity, "At least this severity: info ... critical");
  command->add_option("--rule", flags->rule, "Only alerts a given rule or detector raised");
  command->add_option("--limit", flags->limit, "At most this many, newest first (default 100)");
  command->add_flag("--json", flags->json, "JSON instead of a table");
  command->require_subcommand(0, 1);
  command->fallthrough();  // `alerts ack 7 --db FILE` works as well as `alerts --db FILE ack 7`
  command->callback([flags, command, &exit_code] {
    if (command->get_subcommands().empty()) exit_code = List(*flags);
  });

  const auto add = [&](const char* name, const char* help, auto run) {
    CLI::App* sub = command->add_subcommand(name, help);
    sub->add_option("id", flags->id, "The alert's id (from `portwatch alerts`)")->required();
    sub->callback([flags, &exit_code, run] { exit_code = run(*flags); });
    return sub;
  };
  add("show", "One alert with its reasons, evidence and history", [](const AlertsFlags& f) {
    return Show(f);
  })->add_flag("--json", flags->json, "JSON instead of text");
  add("ack", "Acknowledge: someone is on it; it stays until it resolves",
      [](const AlertsFlags& f) { return Act(f, Action::kAcknowledge); });
  add("silence", "No notifications for this alert for a while",
      [](const AlertsFlags& f) { return Act(f, Action::kSilence); })
      ->add_option("--for", flags->duration, "How long: 30m, 2h, 1d ...")
      ->required();
  add("accept",
      "Accept what it is about: its rules on its subject, at their severity, with that executable",
      [](const AlertsFlags& f) { return Act(f, Action::kAccept); });
  CLI::App* accepted = command->add_subcommand("accepted", "List what was accepted");
  accepted->add_flag("--json", flags->json, "JSON instead of a table");
  accepted->callback([flags, &exit_code] { exit_code = ListAccepted(*flags); });
  CLI::App* unaccept = command->add_subcommand("unaccept", "Undo an acceptance: it alerts again");
  unaccept->add_option("id", flags->id, "The acceptance's id (from `portwatch alerts accepted`)")
      ->required();
  unaccept->callback([flags, &exit_code] { exit_code = Unaccept(*flags); });
}

}  // namespace portwatch::agent
