#include "api/port_json.h"

#include "api/json_text.h"
#include "api/socket_json.h"

namespace portwatch::api {

using namespace collectors;

void AppendPortReportJson(std::string& out, const Snapshot& snapshot, const PortReport& report) {
  const PortCategory category = CategorizePort(report.port);
  std::string holders = "[";
  for (const PortHolder& holder : report.holders) {
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
  AppendSocketJsonArray(sockets, snapshot, report.rows);

  JsonObjectWriter json(out);
  json.Number("port", report.port);
  json.StringOrNull("protocol", report.protocol ? ProtocolName(*report.protocol) : "");
  json.Bool("held", report.held());
  json.Bool("listening", report.has_listener);
  json.StringOrNull("service", report.Service());
  json.String("port_category", PortCategoryName(category));
  json.String("category_meaning", PortCategoryMeaning(category));
  json.Bool("privileged", category == PortCategory::kWellKnown);
  json.String("exposure", report.has_listener ? ExposureName(report.widest) : "none");
  json.Bool("reachable_from_other_hosts", report.reachable_from_other_hosts());
  json.String("reachability", report.Reachability());
  json.Raw("holders", holders);
  json.Raw("sockets", sockets);
}

}  // namespace portwatch::api
