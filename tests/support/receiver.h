// Receiver: a real HTTP server on 127.0.0.1 standing in for Slack, a webhook or Alertmanager —
// it records every request and answers as the test says, and can go down and come back on the
// same port to play an outage.
//
// Runs its own thread (cpp-httplib's). Thread-safe: the test reads what arrived while the server
// thread records it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace httplib {
class Server;
}

namespace portwatch::testing {

struct ReceivedRequest {
  std::string method;
  std::string path;                            // with the query string
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::chrono::steady_clock::time_point at;

  std::string Header(const std::string& lower_name) const;
};

struct Reply {
  int status = 200;
  std::string body = "ok";
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::milliseconds delay{0};  // before answering
};

class Receiver {
 public:
  // Reserves a free port; `start` false leaves it down (connections refused) until Start. Stop
  // gives the port back; Start takes it again.
  explicit Receiver(bool start = true);
  ~Receiver();
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  uint16_t port() const { return port_; }
  // "http://127.0.0.1:PORT" + path.
  std::string Url(const std::string& path = "") const;

  void Start();
  void Stop();

  // How to answer the n-th request (0-based, counting every request received).
  void SetReplies(std::function<Reply(const ReceivedRequest&, size_t)> replies);

  std::vector<ReceivedRequest> Requests() const;
  size_t Count() const;
  // True once at least `count` requests arrived.
  bool WaitForCount(size_t count, std::chrono::milliseconds timeout) const;

 private:
  uint16_t port_ = 0;
  int reserved_fd_ = -1;  // holds the port, refusing connections, until the first Start
  mutable std::mutex mutex_;
  std::vector<ReceivedRequest> requests_;
  std::function<Reply(const ReceivedRequest&, size_t)> replies_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace portwatch::testing
