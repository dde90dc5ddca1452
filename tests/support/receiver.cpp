#include "tests/support/receiver.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "tests/support/wait_for.h"

namespace portwatch::testing {

namespace {

// A socket bound to a free port on 127.0.0.1 but not listening: connections to the port are
// refused, and no other test process can take it, until the receiver listens there itself.
int ReservePort(uint16_t& port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    if (fd >= 0) close(fd);
    throw std::runtime_error("cannot reserve a port on 127.0.0.1");
  }
  port = ntohs(address.sin_port);
  return fd;
}

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

}  // namespace

std::string ReceivedRequest::Header(const std::string& lower_name) const {
  const auto found = headers.find(lower_name);
  return found == headers.end() ? "" : found->second;
}

Receiver::Receiver(bool start)
    : reserved_fd_(ReservePort(port_)), replies_([](const auto&, size_t) { return Reply{}; }) {
  if (start) Start();
}

Receiver::~Receiver() {
  Stop();
  if (reserved_fd_ >= 0) close(reserved_fd_);
}

std::string Receiver::Url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void Receiver::Start() {
  Stop();
  server_ = std::make_unique<httplib::Server>();
  const auto handle = [this](const httplib::Request& request, httplib::Response& response) {
    ReceivedRequest received;
    received.method = request.method;
    received.path = request.target.empty() ? request.path : request.target;
    for (const auto& [name, value] : request.headers) received.headers[Lower(name)] = value;
    received.body = request.body;
    received.at = std::chrono::steady_clock::now();
    Reply reply;
    {
      const std::lock_guard lock(mutex_);
      reply = replies_(received, requests_.size());
      requests_.push_back(received);
    }
    if (reply.delay.count() > 0) std::this_thread::sleep_for(reply.delay);
    response.status = reply.status;
    for (const auto& [name, value] : reply.headers) response.set_header(name, value);
    response.set_content(reply.body, "text/plain");
  };
  server_->Post(".*", handle);
  server_->Get(".*", handle);
  // Bound here, so the port is taken (or the test told why not) before Start returns.
  if (reserved_fd_ >= 0) {
    close(reserved_fd_);
    reserved_fd_ = -1;
  }
  if (!server_->bind_to_port("127.0.0.1", port_)) {
    throw std::runtime_error("the receiver cannot listen on its port again");
  }
  httplib::Server* server = server_.get();
  thread_ = std::thread([server] { server->listen_after_bind(); });
  // httplib ignores a stop() that comes before its accept loop runs: wait for it.
  if (!WaitFor([server] { return server->is_running(); }, std::chrono::seconds(5))) {
    throw std::runtime_error("the receiver's server thread did not start");
  }
}

void Receiver::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

void Receiver::SetReplies(std::function<Reply(const ReceivedRequest&, size_t)> replies) {
  const std::lock_guard lock(mutex_);
  replies_ = std::move(replies);
}

std::vector<ReceivedRequest> Receiver::Requests() const {
  const std::lock_guard lock(mutex_);
  return requests_;
}

size_t Receiver::Count() const {
  const std::lock_guard lock(mutex_);
  return requests_.size();
}

bool Receiver::WaitForCount(size_t count, std::chrono::milliseconds timeout) const {
  return WaitFor([&] { return Count() >= count; }, timeout);
}

}  // namespace portwatch::testing
