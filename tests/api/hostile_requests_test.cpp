// Malformed and hostile requests, sent as raw bytes to a real server: each gets a 4xx (or the
// connection closed) — never a 5xx, a crash or a hang — and the server keeps answering.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/api/api_fixture.h"
#include "tests/support/snapshot_builder.h"
#include "tests/support/sockets.h"

namespace portwatch::api {
namespace {

using nlohmann::json;
using portwatch::testing::ConnectLoopback;
using portwatch::testing::Fd;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr auto kAnswerWithin = std::chrono::seconds(8);

// Whether `answer` holds a whole response: its headers and as many bytes as Content-Length says.
bool Complete(const std::string& answer) {
  const size_t end = answer.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  const size_t length = answer.find("Content-Length: ");
  if (length == std::string::npos || length > end) return true;
  return answer.size() - (end + 4) >= std::stoul(answer.substr(length + 16));
}

// Sends `request` as it is and returns the server's response, or what it wrote before closing
// the connection ("" when it only closed).
std::string Exchange(uint16_t port, const std::string& request) {
  portwatch::testing::TestSocket client = ConnectLoopback(port);
  size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n =
        send(client.fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may stop reading a request it has refused
    sent += static_cast<size_t>(n);
  }
  std::string answer;
  const auto deadline = std::chrono::steady_clock::now() + kAnswerWithin;
  char buffer[16384];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd ready{client.fd.get(), POLLIN, 0};
    if (poll(&ready, 1, 100) <= 0) continue;
    const ssize_t n = recv(client.fd.get(), buffer, sizeof(buffer), 0);
    if (n <= 0) return answer;
    answer.append(buffer, static_cast<size_t>(n));
    if (Complete(answer)) return answer;
  }
  ADD_FAILURE() << "no answer and no close within " << kAnswerWithin.count() << " s";
  return answer;
}

int StatusOf(const std::string& answer) {
  if (!answer.starts_with("HTTP/1.1 ")) return 0;
  return std::stoi(answer.substr(9, 3));
}

std::string Authorized(const std::string& method, const std::string& target,
                       const std::string& rest = "\r\n") {
  return method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
         testing::kToken + "\r\nConnection: close\r\n" + rest;
}

class HostileRequestsTest : public testing::ApiFixture {
 protected:
  void SetUp() override {
    ApiFixture::SetUp();
    portwatch::testing::SnapshotBuilder builder(1'700'000'000'000);
    builder.Add(portwatch::testing::Listener(1, "0.0.0.0", 22),
                portwatch::testing::Proc(10, 1, "sshd"));
    Publish(builder.Build());
  }

  void ExpectStillServing() {
    httplib::Result health = Get("/healthz", false);
    ASSERT_TRUE(health) << "the server stopped answering";
    EXPECT_EQ(health->status, 200);
    EXPECT_EQ(GetJson("/api/v1/listeners")["total"], 1);
  }
};

TEST_F(HostileRequestsTest, EachGetsAFourHundredOrACloseNeverAFiveHundred) {
  const std::string huge_body(1024 * 1024, 'x');
  struct Case {
    std::string name;
    std::string request;
    int status;  // 0: any 4xx, or closed without an answer
  } cases[] = {
      {"traversal", Authorized("GET", "/../../etc/passwd"), 404},
      {"encoded traversal", Authorized("GET", "/%2e%2e/%2e%2e/etc/passwd"), 404},
      {"traversal under the api", Authorized("GET", "/api/v1/../../../etc/passwd"), 404},
      {"double slash", Authorized("GET", "//api/v1/status"), 404},
      {"trailing slash", Authorized("GET", "/api/v1/status/"), 404},
      {"nul in the path", Authorized("GET", "/api/v1/alerts/1%00"), 400},
      {"nul in a parameter", Authorized("GET", "/api/v1/sockets?process=ss%00hd"), 200},
      {"bad percent escape", Authorized("GET", "/api/v1/sockets?port=%zz"), 400},
      {"huge uri", Authorized("GET", "/api/v1/sockets?q=" + std::string(9000, 'a')), 414},
      {"long parameter", Authorized("GET", "/api/v1/sockets?q=" + std::string(3000, 'a')), 400},
      {"many parameters",
       Authorized(
           "GET", "/api/v1/sockets?" +
                      [] {
                        std::string query;
                        for (int i = 0; i < 400; ++i) {
                          query += "p" + std::to_string(i) + "=1&";
                        }
                        return query;
                      }()),
       400},
      {"number overflow", Authorized("GET", "/api/v1/sockets?limit=99999999999999999999999"), 400},
      {"negative id", Authorized("GET", "/api/v1/alerts/-5"), 400},
      {"huge id", Authorized("GET", "/api/v1/history/sockets/9223372036854775808"), 400},
      {"unicode parameter", Authorized("GET", "/api/v1/sockets?state=%E2%9C%93"), 400},
      {"script in a parameter", Authorized("GET", "/api/v1/sockets?sort=%3Cscript%3E"), 400},
      {"body too large",
       Authorized("POST", "/api/v1/alerts/1/silence",
                  "Content-Type: application/json\r\nContent-Length: " +
                      std::to_string(huge_body.size()) + "\r\n\r\n" + huge_body),
       413},
      {"broken json",
       Authorized("POST", "/api/v1/alerts/1/silence",
                  "Content-Type: application/json\r\nContent-Length: 9\r\n\r\n{\"for\":\"2"),
       400},
      {"deeply nested json",
       Authorized("POST", "/api/v1/alerts/1/silence",
                  "Content-Type: application/json\r\nContent-Length: 20000\r\n\r\n" +
                      std::string(10000, '[') + std::string(10000, ']')),
       400},
      {"body shorter than its length",
       Authorized("POST", "/api/v1/alerts/1/ack",
                  "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{}"),
       0},
      {"negative length", Authorized("POST", "/api/v1/alerts/1/ack", "Content-Length: -1\r\n\r\n"),
       0},
      {"bad chunk",
       Authorized("POST", "/api/v1/alerts/1/ack",
                  "Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n{}"
                  "\r\n0\r\n\r\n"),
       0},
      {"garbage", "GARBAGE\r\n\r\n", 0},
      {"binary", std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11), 0},
      {"unknown method", Authorized("BREW", "/api/v1/status"), 0},
      {"wrong method", Authorized("DELETE", "/api/v1/alerts/1"), 405},
      {"header too large",
       "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(70000, 'b') + "\r\n\r\n", 0},
      {"huge token",
       "GET /api/v1/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + std::string(5000, 'a') +
           "\r\nConnection: close\r\n\r\n",
       401},
      {"basic auth",
       "GET /api/v1/status HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWRtaW46YWRtaW4=\r\n"
       "Connection: close\r\n\r\n",
       401},
      {"token in the query",
       "GET /api/v1/status?token=" + std::string(testing::kToken) +
           " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
       401},
      {"bad last event id", Authorized("GET", "/api/v1/events", "Last-Event-ID: x\r\n\r\n"), 400},
  };
  for (const Case& c : cases) {
    const std::string answer = Exchange(server_->port(), c.request);
    const int status = StatusOf(answer);
    if (c.status == 0) {
      EXPECT_TRUE(status == 0 || (status >= 400 && status < 500))
          << c.name << ": " << answer.substr(0, 200);
    } else {
      EXPECT_EQ(status, c.status) << c.name << ": " << answer.substr(0, 300);
    }
    if (status >= 400) {
      // Every error is JSON that names the problem, with the security headers.
      const size_t body = answer.find("\r\n\r\n");
      ASSERT_NE(body, std::string::npos) << c.name;
      const json error = json::parse(answer.substr(body + 4), nullptr, false);
      EXPECT_TRUE(error.is_object() && error.contains("error")) << c.name << ": " << answer;
      EXPECT_THAT(answer, HasSubstr("X-Content-Type-Options: nosniff")) << c.name;
    }
    ExpectStillServing();
  }
}

TEST_F(HostileRequestsTest, IdleAndHalfSentConnectionsDoNotStarveTheServer) {
  // More silent connections than the server has threads: each is dropped after the read
  // timeout, so a real request waits at most that long.
  std::vector<portwatch::testing::TestSocket> idle;
  for (size_t i = 0; i < kWorkerThreads + 4; ++i) {
    idle.push_back(ConnectLoopback(server_->port()));
    if (i % 2 == 0) {
      const std::string partial = "GET /api/v1/status HTTP/1.1\r\nHost: x\r\n";
      send(idle.back().fd.get(), partial.data(), partial.size(), MSG_NOSIGNAL);
    }
  }
  const auto started = std::chrono::steady_clock::now();
  ExpectStillServing();
  EXPECT_LT(std::chrono::steady_clock::now() - started,
            std::chrono::seconds(kIoTimeoutSeconds) + std::chrono::seconds(2));
}

TEST_F(HostileRequestsTest, AFloodOfConnectionsIsServedOrRefusedAndTheServerRecovers) {
  std::vector<std::thread> clients;
  std::atomic<int> answered{0};
  std::atomic<int> server_errors{0};
  for (int i = 0; i < 16; ++i) {
    clients.emplace_back([&] {
      httplib::Client client("127.0.0.1", server_->port());
      client.set_connection_timeout(2, 0);
      client.set_read_timeout(10, 0);
      const httplib::Headers headers = {
          {"Authorization", std::string("Bearer ") + testing::kToken}};
      for (int j = 0; j < 25; ++j) {
        httplib::Result result = client.Get("/api/v1/sockets?limit=1000", headers);
        if (!result) continue;
        if (result->status >= 500) ++server_errors;
        if (result->status == 200) ++answered;
      }
    });
  }
  for (std::thread& client : clients) client.join();
  EXPECT_EQ(server_errors.load(), 0);
  EXPECT_GT(answered.load(), 0);
  ExpectStillServing();
}

}  // namespace
}  // namespace portwatch::api
