// api_bench: the REST API under load with 50k sockets monitored — wrk against the listeners
// endpoint and a page of 100 sockets, against the targets of the API issue, and one page of
// sockets against running `ss -tanp` once (the API answers from memory; ss walks the kernel's
// tables and every process's fds each time). See tests/bench/README.md, "API benchmark".

#include <httplib.h>
#include <sys/wait.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "tests/bench/bench_support.h"

namespace portwatch::bench {
namespace {

constexpr double kListenersP99TargetMs = 10;
constexpr double kRequestsPerSecondTarget = 5000;

constexpr const char* kUsage =
    "usage: api_bench [--portwatch PATH] [--farm PATH] [--connections N] [--seconds S]\n"
    "                 [--threads T] [--clients C] [--dir DIR] [--out FILE]\n"
    "  --portwatch PATH  portwatch binary the agent runs from (default: the one built with\n"
    "                    api_bench)\n"
    "  --farm PATH       conn_farm binary (default: next to api_bench)\n"
    "  --connections N   loopback connections held open: 2N sockets (default 25000)\n"
    "  --seconds S       length of each wrk run (default 10)\n"
    "  --threads T       wrk threads (default 2: this machine's cores)\n"
    "  --clients C       wrk connections (default 16)\n"
    "  --dir DIR         where the agent's database goes (default: a new directory)\n"
    "  --out FILE        also write the markdown report to FILE\n";

struct Options {
  std::string portwatch = PORTWATCH_BINARY;
  std::string farm;
  std::string dir;
  std::string out;
  int connections = 25000;
  int seconds = 10;
  int threads = 2;
  int clients = 16;
};

std::string ReadAll(const std::string& path) {
  std::ifstream file(path);
  std::string text(std::istreambuf_iterator<char>(file), {});
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// What wrk measured: requests per second, latency percentiles in ms, and any non-2xx answers.
struct WrkResult {
  double requests_per_second = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0;
  int64_t non_2xx = 0;
  int64_t socket_errors = 0;
  std::string raw;
};

double ToMillis(double value, const std::string& unit) {
  if (unit == "us") return value / 1000;
  if (unit == "s") return value * 1000;
  if (unit == "m") return value * 60'000;
  return value;  // ms
}

WrkResult RunWrk(const Options& options, const std::string& url, const std::string& token) {
  const std::string command =
      fmt::format("wrk --latency -t{} -c{} -d{}s -H 'Authorization: Bearer {}' '{}' 2>&1",
                  options.threads, options.clients, options.seconds, token, url);
  Say("wrk -t{} -c{} -d{}s {}", options.threads, options.clients, options.seconds, url);
  WrkResult result;
  result.raw = AllOutputOf(command);
  std::smatch match;
  if (std::regex_search(result.raw, match, std::regex(R"(Requests/sec:\s+([0-9.]+))"))) {
    result.requests_per_second = std::stod(match[1]);
  } else {
    Die("wrk printed no Requests/sec (is wrk installed? packaging/install-deps.sh):\n" +
        result.raw);
  }
  for (auto [name, target] : {std::pair{"50", &result.p50_ms}, std::pair{"90", &result.p90_ms},
                              std::pair{"99", &result.p99_ms}}) {
    if (std::regex_search(
            result.raw, match,
            std::regex(std::string(R"(\s)") + name + R"(%\s+([0-9.]+)(us|ms|s|m))"))) {
      *target = ToMillis(std::stod(match[1]), match[2]);
    }
  }
  if (std::regex_search(result.raw, match, std::regex(R"(Non-2xx or 3xx responses:\s+(\d+))"))) {
    result.non_2xx = std::stoll(match[1]);
  }
  if (std::regex_search(
          result.raw, match,
          std::regex(R"(Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+))"))) {
    for (int i = 1; i <= 4; ++i) result.socket_errors += std::stoll(match[i]);
  }
  return result;
}

// One client asking one request at a time on a kept-alive connection: the time a single answer
// takes on an otherwise idle API.
struct Sequential {
  TimingSummary ms;
  size_t bytes = 0;
};

Sequential AskInTurn(httplib::Client& client, const std::string& path, const std::string& token,
                     int count) {
  Sequential result;
  std::vector<double> ms;
  const httplib::Headers headers = {{"Authorization", "Bearer " + token}};
  for (int i = 0; i < count; ++i) {
    const auto started = Clock::now();
    httplib::Result answer = client.Get(path.c_str(), headers);
    ms.push_back(Millis(Clock::now() - started));
    if (!answer || answer->status != 200) {
      Die(fmt::format("GET {}: {}", path,
                      answer ? answer->body : httplib::to_string(answer.error())));
    }
    result.bytes = answer->body.size();
  }
  result.ms = Summarize(ms);
  return result;
}

// `ss -tanp` run `runs` times with its output discarded: the wall time of each, in ms.
std::vector<double> TimeSs(int runs) {
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    const auto started = Clock::now();
    const int status = std::system("ss -tanp >/dev/null 2>&1");
    ms.push_back(Millis(Clock::now() - started));
    if (status != 0) Die("ss -tanp failed; is iproute2 installed?");
  }
  return ms;
}

int Main(int argc, char** argv) {
  SetProgramName("api_bench");
  Options options;
  ParseFlags(argc, argv, kUsage,
             {{"--portwatch", &options.portwatch},
              {"--farm", &options.farm},
              {"--dir", &options.dir},
              {"--out", &options.out},
              {"--connections", &options.connections},
              {"--seconds", &options.seconds},
              {"--threads", &options.threads},
              {"--clients", &options.clients}});
  if (options.farm.empty()) options.farm = NextToThisProgram("conn_farm");
  if (FirstLineOf("command -v wrk").empty()) {
    Die("wrk is missing; run packaging/install-deps.sh test");
  }
  RunConditions conditions =
      RunConditions::Begin(PORTWATCH_SOURCE_DIR, "api collectors store agent",
                           {"snapshot_bench", "store_bench", "agent_bench", "notify_bench",
                            "api_bench", "portwatch agent", "conn_farm"});

  // 1. 2N sockets, the agent watching them, its API on a free port.
  const WorkDirectory dir = MakeWorkDirectory(options.dir);
  Say("conn_farm: {} connections ({} sockets)", options.connections, 2 * options.connections);
  std::unique_ptr<ConnFarm> farm =
      Check(ConnFarm::Start(options.farm, options.connections), "conn_farm");
  const std::string db = dir.path + "/h.db";
  std::unique_ptr<AgentProcess> agent = AgentProcess::Start(
      options.portwatch, db, dir.path + "/agent.log", {"--listen", "127.0.0.1:0"});
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  std::string url;
  while (url.empty() && Clock::now() < deadline) {
    if (!agent->Running()) Die("the agent stopped; see " + dir.path + "/agent.log");
    url = ReadAll(dir.path + "/api.address");
    if (url.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (url.empty()) Die("the agent wrote no api.address within 60 s");
  const std::string token = ReadAll(dir.path + "/api.token");
  httplib::Client client(url);
  client.set_keep_alive(true);
  client.set_read_timeout(30, 0);
  int64_t sockets = 0;
  while (Clock::now() < deadline) {
    httplib::Result status = client.Get("/api/v1/status", {{"Authorization", "Bearer " + token}});
    if (status && status->status == 200) {
      const nlohmann::json body = nlohmann::json::parse(status->body, nullptr, false);
      if (body.is_object() && body["last_snapshot"].is_object()) {
        sockets = body["last_snapshot"]["sockets"].get<int64_t>();
        if (sockets >= 2 * options.connections) break;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  if (sockets < 2 * options.connections) {
    Die(fmt::format("the agent sees {} sockets, not the {} expected", sockets,
                    2 * options.connections));
  }
  Say("the agent sees {} sockets at {}", sockets, url);

  // 2. One request at a time, then wrk, per endpoint.
  struct Endpoint {
    std::string label;
    std::string path;
    Sequential single;
    WrkResult load;
  };
  std::vector<Endpoint> endpoints = {
      {"listeners", "/api/v1/listeners", {}, {}},
      {"a page of 100 sockets", "/api/v1/sockets?limit=100", {}, {}},
      {"a page of 100 sockets, sorted by remote port",
       "/api/v1/sockets?limit=100&sort=-remote_port",
       {},
       {}},
      {"a page of 100 sockets, searched",
       "/api/v1/sockets?limit=100&q=conn_farm&offset=20000",
       {},
       {}},
  };
  for (Endpoint& endpoint : endpoints) {
    AskInTurn(client, endpoint.path, token, 20);  // warm up: the view's caches, the page cache
    endpoint.single = AskInTurn(client, endpoint.path, token, 200);
    Say("{}: median {:.2f} ms one at a time, {} bytes", endpoint.label, endpoint.single.ms.median,
        endpoint.single.bytes);
    endpoint.load = RunWrk(options, url + endpoint.path, token);
    Say("{}: {:.0f} requests/s, p99 {:.2f} ms", endpoint.label, endpoint.load.requests_per_second,
        endpoint.load.p99_ms);
  }

  // 3. The peer: ss -tanp once, as an operator would run it.
  const std::vector<double> ss_ms = TimeSs(5);
  const TimingSummary ss = Summarize(ss_ms);
  Say("ss -tanp: median {:.1f} ms", ss.median);
  conditions.End();
  if (agent->Stop() != 0) Say("warning: the agent did not exit cleanly; see its log");
  farm.reset();

  // 4. The report.
  std::string report;
  auto out = std::back_inserter(report);
  std::error_code ignored;
  const std::string self = std::filesystem::read_symlink("/proc/self/exe", ignored).string();
  std::string reproduce = self;
  for (int i = 1; i < argc; ++i) reproduce += std::string(" ") + argv[i];
  fmt::format_to(out, "# portwatch API benchmark\n\n");
  fmt::format_to(out,
                 "- Reproduce (as root, from the repository root): `cmake -S . -B build-bench "
                 "-DCMAKE_BUILD_TYPE=Release -DPORTWATCH_BUILD_BENCH=ON && cmake --build "
                 "build-bench --target api_bench && {}`\n",
                 reproduce);
  fmt::format_to(
      out, "- Commit {}{}; build type {}; wrk {}\n", conditions.commit(),
      conditions.uncommitted().empty() ? "" : " (uncommitted: " + conditions.uncommitted() + ")",
      PORTWATCH_BUILD_TYPE, FirstLineOf("wrk -v 2>&1 | head -1"));
  fmt::format_to(out, "- Host: {}\n", HostText());
  fmt::format_to(out, "- {}\n", conditions.LoadText());
  if (!conditions.other_benchmarks().empty()) {
    fmt::format_to(out, "- **Warning: other benchmarks ran meanwhile; figures are skewed:** {}\n",
                   fmt::join(conditions.other_benchmarks(), "; "));
  }
  fmt::format_to(out,
                 "- The agent watched {} sockets ({} loopback connections held by conn_farm), "
                 "taking a snapshot every second while it served; wrk ran {} threads and {} "
                 "connections for {} s per endpoint on the same 2 cores.\n",
                 sockets, options.connections, options.threads, options.clients, options.seconds);

  const Endpoint& listeners = endpoints[0];
  const Endpoint& page = endpoints[1];
  fmt::format_to(
      out, "\n## Results\n\n| measurement | result | target | verdict |\n|---|---|---|---|\n");
  fmt::format_to(out, "| listeners under wrk: p99 latency | {:.2f} ms | ≤ {:.0f} ms | {} |\n",
                 listeners.load.p99_ms, kListenersP99TargetMs,
                 Verdict(listeners.load.p99_ms, kListenersP99TargetMs));
  for (const Endpoint* endpoint : {&listeners, &page}) {
    fmt::format_to(
        out, "| {} under wrk: requests/s | {:.0f} | ≥ {:.0f} | {} |\n", endpoint->label,
        endpoint->load.requests_per_second, kRequestsPerSecondTarget,
        endpoint->load.requests_per_second >= kRequestsPerSecondTarget ? "PASS" : "**FAIL**");
  }
  const double ratio = ss.median / page.single.ms.median;
  fmt::format_to(out,
                 "| a page of 100 sockets vs one `ss -tanp` | {:.2f} ms vs {:.1f} ms: {:.0f}× "
                 "cheaper | far less | {} |\n",
                 page.single.ms.median, ss.median, ratio, ratio >= 10 ? "PASS" : "**FAIL**");

  fmt::format_to(out,
                 "\n## Every endpoint\n\n| endpoint | one at a time: median / p99 | bytes | wrk: "
                 "requests/s | wrk: p50 / p90 / p99 | non-2xx, socket errors |\n"
                 "|---|---|---|---|---|---|\n");
  for (const Endpoint& endpoint : endpoints) {
    fmt::format_to(out,
                   "| {} `{}` | {:.2f} / {:.2f} ms | {} | {:.0f} | {:.2f} / {:.2f} / {:.2f} "
                   "ms | {}, {} |\n",
                   endpoint.label, endpoint.path, endpoint.single.ms.median, endpoint.single.ms.p99,
                   endpoint.single.bytes, endpoint.load.requests_per_second, endpoint.load.p50_ms,
                   endpoint.load.p90_ms, endpoint.load.p99_ms, endpoint.load.non_2xx,
                   endpoint.load.socket_errors);
  }
  fmt::format_to(out,
                 "| peer: `ss -tanp`, {} runs | {:.1f} / {:.1f} ms (min {:.1f}) | — | — | — "
                 "| — |\n",
                 ss.count, ss.median, ss.max, *std::min_element(ss_ms.begin(), ss_ms.end()));
  fmt::format_to(out,
                 "\nThe latencies under wrk include wrk's own CPU on the same two cores as the "
                 "agent, so they are an upper bound for a remote scraper.\n");
  PublishReport(report, options.out);
  if (dir.temporary) std::filesystem::remove_all(dir.path, ignored);
  return 0;
}

}  // namespace
}  // namespace portwatch::bench

int main(int argc, char** argv) { return portwatch::bench::Main(argc, argv); }
