// Alerts and their notifications: list and show from the database; acknowledge, silence and
// accept as the CLI does (the running agent picks the change up within an interval). An action
// is also an event on the live stream, so every open dashboard sees it at once.

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>

#include "api/alert_json.h"
#include "api/query.h"
#include "api/routes/routes.h"
#include "collectors/time_text.h"
#include "store/alert_kinds.h"
#include "store/alerts.h"
#include "store/deliveries.h"

namespace portwatch::api {

namespace {

using nlohmann::json;

template <typename T>
T Answer(Result<T> result) {
  if (!result) throw HttpError{503, "cannot read the alerts: " + result.error().message};
  return std::move(result).value();
}

void List(const RouteContext& context, Call& call) {
  const Query query(call.request);
  store::AlertFilter filter;
  if (const std::optional<std::string> status = query.Text("status")) {
    if (*status == "active") {
      filter.active_only = true;
    } else {
      filter.status = store::ParseAlertStatus(*status);
      if (!filter.status) {
        throw HttpError{400, fmt::format("status: '{}' is not one of active, open, acknowledged, "
                                         "resolved",
                                         *status)};
      }
    }
  }
  if (const std::optional<std::string> severity = query.Text("severity")) {
    const std::optional<store::Severity> parsed = store::ParseSeverity(*severity);
    if (!parsed) {
      throw HttpError{400, fmt::format("severity: '{}' is not one of info, low, medium, high, "
                                       "critical (the least severe to list)",
                                       *severity)};
    }
    filter.min_severity = static_cast<int>(*parsed);
  }
  filter.rule = query.Text("rule").value_or("");
  filter.limit = query.Int("limit", 100, 1, 10'000);
  DatabasePool::Lease db = RequireDatabase(context);
  const std::vector<store::Alert> alerts = Answer(store::ListAlerts(*db, filter));
  json body = {{"total", alerts.size()}, {"alerts", json::array()}};
  for (const store::Alert& alert : alerts) body["alerts"].push_back(AlertToJson(alert));
  SendJson(call.response, DumpJson(body));
}

store::Alert Find(store::Database& db, int64_t id) {
  std::optional<store::Alert> alert = Answer(store::FindAlert(db, id));
  if (!alert) throw HttpError{404, fmt::format("no alert with id {}", id)};
  return *alert;
}

void Show(const RouteContext& context, Call& call) {
  const int64_t id = PathNumber(call.path[0], "alert id", 1, INT64_MAX);
  DatabasePool::Lease db = RequireDatabase(context);
  json body = AlertToJson(Find(*db, id));
  body["events"] = json::array();
  for (const store::AlertEvent& event : Answer(store::AlertEvents(*db, id))) {
    body["events"].push_back(AlertEventToJson(event));
  }
  store::DeliveryFilter deliveries;
  deliveries.alert_id = id;
  deliveries.limit = 1000;
  body["deliveries"] = json::array();
  for (const store::Delivery& delivery : Answer(store::ListDeliveries(*db, deliveries))) {
    body["deliveries"].push_back(DeliveryToJson(delivery));
  }
  SendJson(call.response, DumpJson(body));
}

// The request's JSON object body; {} when there is none.
json Body(const httplib::Request& request) {
  if (request.body.empty()) return json::object();
  const std::string type = request.get_header_value("Content-Type");
  if (!type.starts_with("application/json")) {
    throw HttpError{415, "send the body as JSON with Content-Type: application/json"};
  }
  json body = json::parse(request.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    throw HttpError{400, "the body is not a JSON object"};
  }
  return body;
}

enum class Action { kAcknowledge, kSilence, kAccept };

void Act(const RouteContext& context, Call& call, Action action) {
  const int64_t id = PathNumber(call.path[0], "alert id", 1, INT64_MAX);
  const json body = Body(call.request);
  int64_t duration = 0;
  for (const auto& [key, value] : body.items()) {
    if (action == Action::kSilence && key == "for") continue;
    throw HttpError{400, fmt::format("unknown field '{}' in the body{}", key,
                                     action == Action::kSilence ? "; silence takes \"for\"" : "")};
  }
  if (action == Action::kSilence) {
    if (!body.contains("for") || !body["for"].is_string()) {
      throw HttpError{400, "silence needs {\"for\": \"2h\"}: how long, as 30m, 2h or 1d"};
    }
    Result<int64_t> parsed = collectors::ParseDuration(body["for"].get<std::string>());
    if (!parsed || *parsed <= 0 || *parsed > int64_t{366} * 24 * 3600 * 1000) {
      throw HttpError{400,
                      fmt::format("for: {}", parsed ? "from 1s to 366d" : parsed.error().message)};
    }
    duration = *parsed;
  }
  {
    DatabasePool::Lease db = RequireDatabase(context);
    Find(*db, id);  // a 404 before anything is written
  }
  Result<store::Database> db = context.pool.OpenForWriting();
  if (!db) throw HttpError{503, "cannot open the alerts for writing: " + db.error().message};
  const int64_t now = NowMillis();
  Result<store::Alert> done = action == Action::kAcknowledge ? store::AcknowledgeAlert(*db, id, now)
                              : action == Action::kSilence
                                  ? store::SilenceAlert(*db, id, now + duration, now)
                                  : store::AcceptAlert(*db, id, now);
  if (!done) throw HttpError{409, done.error().message};
  std::string alert = AlertJson(*done);
  context.live.PublishAlert(action == Action::kAcknowledge ? "acknowledged"
                            : action == Action::kSilence   ? "silenced"
                                                           : "accepted",
                            alert);
  SendJson(call.response, std::move(alert));
}

void Acceptances(const RouteContext& context, Call& call) {
  DatabasePool::Lease db = RequireDatabase(context);
  json body = {{"acceptances", json::array()}};
  for (const store::Acceptance& acceptance : Answer(store::ListAcceptances(*db))) {
    body["acceptances"].push_back(AcceptanceToJson(acceptance));
  }
  SendJson(call.response, DumpJson(body));
}

void Unaccept(const RouteContext& context, Call& call) {
  const int64_t id = PathNumber(call.path[0], "acceptance id", 1, INT64_MAX);
  {
    DatabasePool::Lease db = RequireDatabase(context);
    const std::vector<store::Acceptance> all = Answer(store::ListAcceptances(*db));
    if (std::none_of(all.begin(), all.end(),
                     [&](const store::Acceptance& acceptance) { return acceptance.id == id; })) {
      throw HttpError{404, fmt::format("no acceptance with id {}; GET /api/v1/acceptances lists "
                                       "them",
                                       id)};
    }
  }
  Result<store::Database> db = context.pool.OpenForWriting();
  if (!db) throw HttpError{503, "cannot open the alerts for writing: " + db.error().message};
  Result<store::Acceptance> removed = store::RemoveAcceptance(*db, id);
  if (!removed) throw HttpError{409, removed.error().message};
  SendJson(call.response, DumpJson(AcceptanceToJson(*removed)));
}

void Notifications(const RouteContext& context, Call& call) {
  const Query query(call.request);
  store::DeliveryFilter filter;
  if (const std::optional<std::string> status = query.Text("status")) {
    filter.status = store::ParseDeliveryStatus(*status);
    if (!filter.status) {
      throw HttpError{400, fmt::format("status: '{}' is not one of pending, delivered, failed, "
                                       "skipped",
                                       *status)};
    }
  }
  filter.target = query.Text("target").value_or("");
  filter.limit = query.Int("limit", 100, 1, 10'000);
  DatabasePool::Lease db = RequireDatabase(context);
  json body = {{"targets", json::object()}, {"deliveries", json::array()}};
  for (const auto& [target, counts] : Answer(store::CountDeliveries(*db))) {
    body["targets"][target] = {{"pending", counts.pending},
                               {"delivered", counts.delivered},
                               {"failed", counts.failed},
                               {"skipped", counts.skipped}};
  }
  for (const store::Delivery& delivery : Answer(store::ListDeliveries(*db, filter))) {
    body["deliveries"].push_back(DeliveryToJson(delivery));
  }
  SendJson(call.response, DumpJson(body));
}

}  // namespace

void AddAlertRoutes(Router& router, const RouteContext& context) {
  router.Add({"GET",
              "/api/v1/alerts",
              Access::kToken,
              {"status", "severity", "rule", "limit"},
              [&context](Call& call) { List(context, call); }});
  router.Add({"GET", "/api/v1/alerts/{id}", Access::kToken, {}, [&context](Call& call) {
                Show(context, call);
              }});
  router.Add({"POST", "/api/v1/alerts/{id}/ack", Access::kToken, {}, [&context](Call& call) {
                Act(context, call, Action::kAcknowledge);
              }});
  router.Add({"POST", "/api/v1/alerts/{id}/silence", Access::kToken, {}, [&context](Call& call) {
                Act(context, call, Action::kSilence);
              }});
  router.Add({"POST", "/api/v1/alerts/{id}/accept", Access::kToken, {}, [&context](Call& call) {
                Act(context, call, Action::kAccept);
              }});
  router.Add({"GET", "/api/v1/acceptances", Access::kToken, {}, [&context](Call& call) {
                Acceptances(context, call);
              }});
  router.Add({"DELETE", "/api/v1/acceptances/{id}", Access::kToken, {}, [&context](Call& call) {
                Unaccept(context, call);
              }});
  router.Add({"GET",
              "/api/v1/notifications",
              Access::kToken,
              {"status", "target", "limit"},
              [&context](Call& call) { Notifications(context, call); }});
}

}  // namespace portwatch::api
