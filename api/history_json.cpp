#include "api/history_json.h"

#include <unordered_map>

#include "api/json_text.h"

namespace portwatch::api {

ExtraJsonFields LifetimeFields(const store::History& history) {
  return [&history](uint32_t row, JsonObjectWriter& object) {
    object.Number("id", history.ids[row]);
    object.Number("opened_at", history.opened_at[row]);
    object.Number("closed_at", history.closed_at[row]);
  };
}

void AppendListenerEventsJson(std::string& out, const store::ListenerEvents& events) {
  std::unordered_map<int64_t, uint32_t> row_of;
  for (uint32_t i = 0; i < events.sockets.ids.size(); ++i) row_of[events.sockets.ids[i]] = i;
  std::vector<uint32_t> rows;
  rows.reserve(events.events.size());
  for (const store::ListenerEvent& event : events.events) rows.push_back(row_of[event.socket_id]);
  size_t next = 0;
  AppendSocketJsonArray(out, events.sockets.snapshot, rows,
                        [&](uint32_t, JsonObjectWriter& object) {
                          const store::ListenerEvent& event = events.events[next++];
                          object.Number("at", event.at);
                          object.String("event", event.appeared ? "appeared" : "disappeared");
                          object.Number("id", event.socket_id);
                        });
}

void AppendSamplesJson(std::string& out, const std::vector<store::Sample>& samples) {
  out += '[';
  for (size_t i = 0; i < samples.size(); ++i) {
    const store::Sample& sample = samples[i];
    out += i == 0 ? "\n" : ",\n";
    JsonObjectWriter object(out);
    object.Number("at", sample.at);
    object.Number("sockets", sample.sockets);
    object.Number("tcp", sample.tcp);
    object.Number("udp", sample.udp);
    object.Number("raw", sample.raw);
    object.Number("packet", sample.packet);
    object.Number("listeners", sample.listeners);
    object.Number("established", sample.established);
    object.Number("time_wait", sample.time_wait);
    object.Number("remote_hosts", sample.remote_hosts);
  }
  out += samples.empty() ? "]\n" : "\n]\n";
}

}  // namespace portwatch::api
