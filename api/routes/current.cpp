// Current state, answered from the latest snapshot in memory: sockets (filtered, sorted, paged),
// listeners by program, processes, and one port explained.

#include <fmt/format.h>

#include "api/json_text.h"
#include "api/port_json.h"
#include "api/query.h"
#include "api/routes/routes.h"
#include "api/socket_json.h"
#include "api/socket_page.h"
#include "collectors/port_report.h"
#include "collectors/time_text.h"

namespace portwatch::api {

using namespace collectors;

namespace {

void Sockets(const RouteContext& context, Call& call) {
  const PageRequest request = ReadPageRequest(Query(call.request));
  const std::shared_ptr<const SnapshotView> view = RequireView(context);
  const Page page = SelectPage(view->snapshot(), request);
  std::string out;
  out.reserve(page.rows.size() * 700 + 256);
  out += "{\"taken_at\":";
  AppendJsonString(out, FormatIsoTime(view->taken_at()));
  out += ',';
  AppendPageMembers(out, view->snapshot(), page, request.limit);
  out += '}';
  SendJson(call.response, std::move(out));
}

void Port(const RouteContext& context, Call& call) {
  // "22", "22/tcp" or "53/udp"; the slash arrives encoded as %2F or as ?proto=.
  const int64_t port = PathNumber(call.path[0], "port", 0, 65535);
  const Query query(call.request);
  std::optional<Protocol> protocol;
  if (const std::optional<std::string> text = query.Text("proto")) {
    protocol = ParseProtocolName(*text);
    if (!protocol || (*protocol != Protocol::kTcp && *protocol != Protocol::kUdp)) {
      throw HttpError{400, fmt::format("proto: '{}' is not tcp or udp", *text)};
    }
  }
  const std::shared_ptr<const SnapshotView> view = RequireView(context);
  const PortReport report = ReportPort(view->snapshot(), static_cast<uint16_t>(port), protocol);
  std::string out;
  AppendPortReportJson(out, view->snapshot(), report);
  out.insert(1, "\"taken_at\":\"" + FormatIsoTime(view->taken_at()) + "\",");
  SendJson(call.response, std::move(out));
}

}  // namespace

void AddCurrentRoutes(Router& router, const RouteContext& context) {
  router.Add({"GET", "/api/v1/sockets", Access::kToken, PageParameters(),
              [&context](Call& call) { Sockets(context, call); }});
  router.Add({"GET", "/api/v1/listeners", Access::kToken, {}, [&context](Call& call) {
                SendJson(call.response, RequireView(context)->ListenersJson());
              }});
  router.Add({"GET", "/api/v1/processes", Access::kToken, {}, [&context](Call& call) {
                SendJson(call.response, RequireView(context)->ProcessesJson());
              }});
  router.Add({"GET", "/api/v1/ports/{port}", Access::kToken, {"proto"}, [&context](Call& call) {
                Port(context, call);
              }});
}

}  // namespace portwatch::api
