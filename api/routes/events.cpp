// /api/v1/events: Server-Sent Events — "snapshot" summaries every interval, "listener_appeared"
// and "listener_disappeared", and "alert_opened", "alert_resolved", … as they happen.
//
// Each event carries its id; a client that reconnects with Last-Event-ID gets what it missed
// while the hub still holds it. A comment line every 15 s keeps proxies from closing an idle
// stream and finds clients that went away. Browsers' EventSource cannot send the token, so the
// dashboard reads the stream with fetch().

#include <fmt/format.h>

#include <chrono>

#include "api/routes/routes.h"
#include "api/server.h"
#include "collectors/parse_number.h"

namespace portwatch::api {

namespace {

constexpr auto kPoll = std::chrono::milliseconds(250);
constexpr auto kKeepAlive = std::chrono::seconds(15);

void Stream(const RouteContext& context, Call& call) {
  int64_t after = context.live.events().last_id();
  if (call.request.has_header("Last-Event-ID")) {
    int64_t last = 0;
    if (!collectors::ParseNumber(call.request.get_header_value("Last-Event-ID"), last) ||
        last < 0) {
      throw HttpError{400, "Last-Event-ID: not an event id (a whole number)"};
    }
    after = std::min(last, after);
  }
  if (context.streams.fetch_add(1) >= kMaxStreams) {
    context.streams.fetch_sub(1);
    throw HttpError{503, fmt::format("{} event streams are open already; close one (another "
                                     "dashboard tab?) and retry",
                                     kMaxStreams)};
  }
  call.response.set_header("X-Accel-Buffering", "no");
  auto last_write = std::chrono::steady_clock::now();
  bool greeted = false;
  call.response.set_chunked_content_provider(
      "text/event-stream",
      [&context, after, last_write, greeted](size_t, httplib::DataSink& sink) mutable {
        std::string out;
        if (!greeted) {
          out = "retry: 2000\n\n";  // how long a browser waits before reconnecting
          greeted = true;
        }
        const std::vector<StreamEvent> events = context.live.events().WaitAfter(after, kPoll);
        if (context.stopping.load()) {
          sink.done();
          return true;
        }
        for (const StreamEvent& event : events) {
          fmt::format_to(std::back_inserter(out), "id: {}\nevent: {}\ndata: {}\n\n", event.id,
                         event.type, event.data);
          after = event.id;
        }
        const auto now = std::chrono::steady_clock::now();
        if (out.empty() && now - last_write >= kKeepAlive) out = ": keep-alive\n\n";
        if (out.empty()) return true;
        last_write = now;
        return sink.write(out.data(), out.size());
      },
      [&context](bool) { context.streams.fetch_sub(1); });
}

}  // namespace

void AddEventRoutes(Router& router, const RouteContext& context) {
  router.Add({"GET", "/api/v1/events", Access::kToken, {}, [&context](Call& call) {
                Stream(context, call);
              }});
}

}  // namespace portwatch::api
