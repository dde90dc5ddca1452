// `portwatch notify`: the notification outbox from the command line — send a test message to a
// target, see what is pending or failed, and queue failed deliveries again once a target is
// fixed.

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "agent/cli/command_errors.h"
#include "agent/cli/commands.h"
#include "agent/cli/delivery_text.h"
#include "agent/cli/exit_codes.h"
#include "agent/cli/state_paths.h"
#include "agent/config.h"
#include "agent/notify/http_sender.h"
#include "agent/notify/message.h"
#include "agent/notify/target.h"
#include "api/alert_json.h"
#include "collectors/parse_number.h"
#include "store/database.h"
#include "store/deliveries.h"
#include "store/history_writer.h"

namespace portwatch::agent {

namespace {

struct NotifyFlags {
  std::string config;
  std::string db;
  std::string target;  // test
  std::string id;      // retry
  std::string retry_target;
  bool all_failed = false;
  bool json = false;
  std::string limit = "50";
};

constexpr CommandErrors kErrors{"notify"};

int64_t NowMillis() { return store::ToMillis(std::chrono::system_clock::now()); }

// Where the service's config lives (packaging/), which `notify test` reads unless told otherwise.
constexpr const char* kServiceConfig = "/etc/portwatch/portwatch.yaml";

int Test(NotifyFlags flags) {
  if (flags.config.empty()) {
    if (!std::filesystem::exists(kServiceConfig)) {
      return kErrors.Usage(fmt::format(
          "no config at {}; pass --config FILE (the agent's config, with notify.targets)",
          kServiceConfig));
    }
    flags.config = kServiceConfig;
  }
  Result<Config> config = LoadConfig(flags.config);
  if (!config) return kErrors.Usage(config.error().message);
  const std::vector<notify::TargetConfig>& targets = config->notify.targets;
  const auto found = std::find_if(targets.begin(), targets.end(),
                                  [&](const auto& target) { return target.name == flags.target; });
  if (found == targets.end()) {
    std::vector<std::string> names;
    for (const notify::TargetConfig& target : targets) names.push_back(target.name);
    return kErrors.Usage(names.empty()
                             ? fmt::format("{} has no notify.targets; add one first", flags.config)
                             : fmt::format("no target named '{}' in {}; its targets are {}",
                                           flags.target, flags.config, fmt::join(names, ", ")));
  }
  Result<std::unique_ptr<notify::Target>> target = notify::MakeTarget(*found);
  if (!target) return kErrors.Usage(target.error().message);
  notify::MessageContext context;
  context.host = config->notify.host.empty() ? notify::HostName() : config->notify.host;
  context.dashboard_url = config->notify.dashboard_url;
  const notify::HttpRequest request = (*target)->Render(notify::TestMessage(context, NowMillis()));
  notify::HttpSender sender;
  const notify::HttpResponse response = sender.Send(request, {found->ca_file, found->timeout});
  const std::string where =
      fmt::format("{} ({}, {})", found->name, found->type, notify::RedactUrl(request.url));
  if (response.status == 0) {
    return kErrors.Failure(fmt::format("{}: {}", where, response.error));
  }
  fmt::print("{}: HTTP {}\n", where, response.status);
  if (!response.body.empty()) fmt::print("{}\n", response.body);
  if (!response.ok()) {
    return kErrors.Failure(
        fmt::format("{} answered HTTP {}; check its URL or token", found->name, response.status));
  }
  return kExitOk;
}

Result<store::Database> OpenDatabase(const NotifyFlags& flags, store::Database::Mode mode) {
  const std::string path = flags.db.empty() ? DefaultDatabasePath() : flags.db;
  if (!std::filesystem::exists(path)) {
    return Error{fmt::format("no database at {}: start the agent first (portwatch agent --db {})",
                             path, path)};
  }
  return store::Database::Open(path, mode);
}

int Status(const NotifyFlags& flags) {
  int64_t limit = 0;
  if (!collectors::ParseNumber(flags.limit, limit) || limit <= 0 || limit > 100000) {
    return kErrors.Usage(fmt::format("--limit '{}' is not a number from 1 to 100000", flags.limit));
  }
  Result<store::Database> db = OpenDatabase(flags, store::Database::Mode::kReadOnly);
  if (!db) return kErrors.Failure(db.error().message);
  Result<std::map<std::string, store::DeliveryCounts>> counts = store::CountDeliveries(*db);
  if (!counts) return kErrors.Failure(counts.error().message);
  // What needs a look: pending and failed rows (delivered ones are only counted).
  std::vector<store::Delivery> open_rows;
  for (const store::DeliveryStatus status :
       {store::DeliveryStatus::kFailed, store::DeliveryStatus::kPending}) {
    store::DeliveryFilter filter;
    filter.status = status;
    filter.limit = limit;
    Result<std::vector<store::Delivery>> rows = store::ListDeliveries(*db, filter);
    if (!rows) return kErrors.Failure(rows.error().message);
    open_rows.insert(open_rows.end(), rows->begin(), rows->end());
  }
  if (flags.json) {
    nlohmann::json json = {{"targets", nlohmann::json::object()},
                           {"deliveries", nlohmann::json::array()}};
    for (const auto& [name, count] : *counts) {
      json["targets"][name] = {{"pending", count.pending},
                               {"delivered", count.delivered},
                               {"failed", count.failed},
                               {"skipped", count.skipped}};
    }
    for (const store::Delivery& row : open_rows)
      json["deliveries"].push_back(api::DeliveryToJson(row));
    fmt::print("{}\n", json.dump(2));
    return kExitOk;
  }
  if (counts->empty()) {
    fmt::print("no notifications yet\n");
    return kExitOk;
  }
  fmt::print("{:<14}  {:>8}  {:>9}  {:>6}\n", "TARGET", "PENDING", "DELIVERED", "FAILED");
  for (const auto& [name, count] : *counts) {
    fmt::print("{:<14}  {:>8}  {:>9}  {:>6}\n", name, count.pending, count.delivered, count.failed);
  }
  if (!open_rows.empty()) {
    fmt::print("\n{:>5}  {:<9}  {:<14}  {:<17} {}\n", "ID", "STATUS", "TARGET", "EVENT", "OUTCOME");
    for (const store::Delivery& row : open_rows) fmt::print("{}\n", DeliveryLine(row));
  }
  return kExitOk;
}

int Retry(const NotifyFlags& flags) {
  std::optional<int64_t> id;
  if (!flags.all_failed) {
    int64_t parsed = 0;
    if (flags.id.empty()) {
      return kErrors.Usage("name a delivery id (from portwatch notify status) or pass --failed");
    }
    if (!collectors::ParseNumber(flags.id, parsed) || parsed <= 0) {
      return kErrors.Usage(fmt::format("'{}' is not a delivery id (a positive number)", flags.id));
    }
    id = parsed;
  } else if (!flags.id.empty()) {
    return kErrors.Usage("pass a delivery id or --failed, not both");
  }
  if (!flags.retry_target.empty() && !flags.all_failed) {
    return kErrors.Usage("--target goes with --failed");
  }
  Result<store::Database> db = OpenDatabase(flags, store::Database::Mode::kReadWrite);
  if (!db) return kErrors.Failure(db.error().message);
  Result<int64_t> requeued = store::RequeueFailed(*db, id, flags.retry_target, NowMillis());
  if (!requeued) return kErrors.Failure(requeued.error().message);
  fmt::print("{} deliver{} queued again; the running agent sends {} within a second\n", *requeued,
             *requeued == 1 ? "y" : "ies", *requeued == 1 ? "it" : "them");
  return kExitOk;
}

}  // namespace

void AddNotifyCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<NotifyFlags>();
  CLI::App* command = app.add_subcommand(
      "notify", "Notification targets: send a test, see pending and failed deliveries, retry");
  command->require_subcommand(1);

  CLI::App* test = command->add_subcommand(
      "test", "Send a test message to one target of the config and print its answer");
  test->add_option("target", flags->target, "The target's name (notify.targets[].name)")
      ->required();
  test->add_option("-c,--config", flags->config,
                   fmt::format("The agent's config file (default: {})", kServiceConfig));
  test->callback([flags, &exit_code] { exit_code = Test(*flags); });

  const std::string db_help = "History database (default: " + DefaultDatabasePath() + ")";
  CLI::App* status = command->add_subcommand(
      "status", "Deliveries by target, and every pending or failed one with its reason");
  status->add_option("--db", flags->db, db_help);
  status->add_option("--limit", flags->limit, "At most this many rows of each (default 50)");
  status->add_flag("--json", flags->json, "JSON instead of tables");
  status->callback([flags, &exit_code] { exit_code = Status(*flags); });

  CLI::App* retry = command->add_subcommand(
      "retry", "Queue failed deliveries again (after fixing the target's URL or token)");
  retry->add_option("id", flags->id, "One delivery's id (from notify status)");
  retry->add_flag("--failed", flags->all_failed, "Every failed delivery");
  retry->add_option("--target", flags->retry_target, "With --failed: only this target's");
  retry->add_option("--db", flags->db, db_help);
  retry->callback([flags, &exit_code] { exit_code = Retry(*flags); });
}

}  // namespace portwatch::agent
