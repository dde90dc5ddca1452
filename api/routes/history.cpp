// History, answered from the database: the state at a moment (filtered, sorted and paged like the
// current sockets), connections with an address or block, a port's history, listener events,
// samples for charts, one socket's lifetime.

#include <fmt/format.h>

#include "api/history_json.h"
#include "api/json_text.h"
#include "api/query.h"
#include "api/routes/routes.h"
#include "api/socket_json.h"
#include "api/socket_page.h"
#include "collectors/time_text.h"
#include "store/queries.h"

namespace portwatch::api {

namespace {

constexpr int64_t kDay = 24 * 3600 * 1000;

// since (default 24h back) .. until (default now), checked.
store::TimeRange ReadRange(const Query& query) {
  const int64_t now = NowMillis();
  const int64_t since = query.Since("since", now).value_or(now - kDay);
  const int64_t until = query.Moment("until", now).value_or(now);
  if (since > until) throw HttpError{400, "since is after until: the range is empty"};
  return {since, until};
}

template <typename T>
T Answer(Result<T> result) {
  if (!result) throw HttpError{503, "cannot read the history: " + result.error().message};
  return std::move(result).value();
}

std::vector<uint32_t> AllRows(const store::History& history) {
  std::vector<uint32_t> rows(history.snapshot.sockets.size());
  for (uint32_t i = 0; i < rows.size(); ++i) rows[i] = i;
  return rows;
}

// {"since":…,"until":…,"sockets":[…]} with each socket's lifetime.
void SendLifetimes(Call& call, const store::History& history, store::TimeRange range) {
  std::string out = fmt::format(R"({{"since":"{}","until":"{}","total":{},"sockets":)",
                                collectors::FormatIsoTime(range.from),
                                collectors::FormatIsoTime(range.to), history.ids.size());
  AppendSocketJsonArray(out, history.snapshot, AllRows(history), LifetimeFields(history));
  out += '}';
  SendJson(call.response, std::move(out));
}

// The sockets open at a moment, asked for as the current ones are: filtered, sorted and paged.
void State(const RouteContext& context, Call& call) {
  const Query query(call.request);
  const PageRequest request = ReadPageRequest(query);
  const std::optional<int64_t> at = query.Moment("at", NowMillis());
  if (!at) throw HttpError{400, "at: required; a time such as 2026-11-24T03:10:00Z or -2h"};
  DatabasePool::Lease db = RequireDatabase(context);
  const std::optional<store::TimeRange> recorded = Answer(store::RecordedRange(*db));
  if (!recorded || *at < recorded->from) {
    throw HttpError{404, recorded ? fmt::format("nothing was recorded before {}",
                                                collectors::FormatIsoTime(recorded->from))
                                  : std::string("nothing has been recorded yet")};
  }
  const store::History state = Answer(store::StateAt(*db, *at));
  const Page page = SelectPage(state.snapshot, request);
  std::string out = fmt::format(R"({{"at":"{}",)", collectors::FormatIsoTime(*at));
  AppendPageMembers(out, state.snapshot, page, request.limit);
  out += '}';
  SendJson(call.response, std::move(out));
}

void Connections(const RouteContext& context, Call& call) {
  const Query query(call.request);
  const std::optional<collectors::Cidr> block = query.Network("remote");
  if (!block)
    throw HttpError{400, "remote: required; an address (203.0.113.7) or a block (10.0.0.0/8)"};
  const store::TimeRange range = ReadRange(query);
  DatabasePool::Lease db = RequireDatabase(context);
  SendLifetimes(call, Answer(store::ConnectionsWith(*db, *block, range)), range);
}

void PortHistory(const RouteContext& context, Call& call) {
  const int64_t port = PathNumber(call.path[0], "port", 1, 65535);
  const store::TimeRange range = ReadRange(Query(call.request));
  DatabasePool::Lease db = RequireDatabase(context);
  SendLifetimes(call, Answer(store::PortHistory(*db, static_cast<uint16_t>(port), range)), range);
}

void ListenerEvents(const RouteContext& context, Call& call) {
  const store::TimeRange range = ReadRange(Query(call.request));
  DatabasePool::Lease db = RequireDatabase(context);
  const store::ListenerEvents events = Answer(store::ListenerEventsIn(*db, range));
  std::string out = fmt::format(R"({{"since":"{}","until":"{}","total":{},"events":)",
                                collectors::FormatIsoTime(range.from),
                                collectors::FormatIsoTime(range.to), events.events.size());
  AppendListenerEventsJson(out, events);
  out += '}';
  SendJson(call.response, std::move(out));
}

void Samples(const RouteContext& context, Call& call) {
  const Query query(call.request);
  const store::TimeRange range = ReadRange(query);
  // At most 10,000 points: a chart has no use for more, and a response stays small.
  const int64_t minimum_step = std::max<int64_t>(1000, (range.to - range.from) / 10'000);
  const int64_t step = query.Duration("step").value_or(std::max<int64_t>(60'000, minimum_step));
  if (step < minimum_step) {
    throw HttpError{400, fmt::format("step: at least {} ms for this range (10,000 points at most)",
                                     minimum_step)};
  }
  DatabasePool::Lease db = RequireDatabase(context);
  const std::vector<store::Sample> samples = Answer(store::SamplesIn(*db, range, step));
  std::string out =
      fmt::format(R"({{"since":"{}","until":"{}","step_ms":{},"samples":)",
                  collectors::FormatIsoTime(range.from), collectors::FormatIsoTime(range.to), step);
  AppendSamplesJson(out, samples);
  out += '}';
  SendJson(call.response, std::move(out));
}

void SocketLifetime(const RouteContext& context, Call& call) {
  const int64_t id = PathNumber(call.path[0], "socket id", 1, INT64_MAX);
  DatabasePool::Lease db = RequireDatabase(context);
  Result<store::Lifetime> lifetime = store::SocketLifetime(*db, id);
  if (!lifetime) throw HttpError{404, lifetime.error().message};
  const store::History& history = lifetime->socket;
  // The one socket's object, with its lifetime fields, out of a one-element array.
  std::string socket;
  AppendSocketJsonArray(socket, history.snapshot, {0}, LifetimeFields(history));
  const size_t open = socket.find('{');
  const size_t close = socket.rfind('}');
  std::string out = "{\"socket\":" + socket.substr(open, close - open + 1) + ",\"changes\":[";
  for (size_t i = 0; i < lifetime->changes.size(); ++i) {
    const store::StateChange& change = lifetime->changes[i];
    if (i > 0) out += ',';
    JsonObjectWriter object(out);
    object.Number("at", change.at);
    object.String("state",
                  collectors::StateName(history.snapshot.sockets[0].protocol, change.state));
  }
  out += "]}";
  SendJson(call.response, std::move(out));
}

}  // namespace

void AddHistoryRoutes(Router& router, const RouteContext& context) {
  std::vector<std::string> state_parameters = PageParameters();
  state_parameters.push_back("at");
  router.Add({"GET", "/api/v1/history/state", Access::kToken, std::move(state_parameters),
              [&context](Call& call) { State(context, call); }});
  router.Add({"GET",
              "/api/v1/history/connections",
              Access::kToken,
              {"remote", "since", "until"},
              [&context](Call& call) { Connections(context, call); }});
  router.Add({"GET",
              "/api/v1/history/ports/{port}",
              Access::kToken,
              {"since", "until"},
              [&context](Call& call) { PortHistory(context, call); }});
  router.Add({"GET",
              "/api/v1/history/listener-events",
              Access::kToken,
              {"since", "until"},
              [&context](Call& call) { ListenerEvents(context, call); }});
  router.Add({"GET",
              "/api/v1/history/samples",
              Access::kToken,
              {"since", "until", "step"},
              [&context](Call& call) { Samples(context, call); }});
  router.Add({"GET", "/api/v1/history/sockets/{id}", Access::kToken, {}, [&context](Call& call) {
                SocketLifetime(context, call);
              }});
}

}  // namespace portwatch::api
