// HttpSender: sends one HttpRequest with cpp-httplib (OpenSSL for https), and turns every way it
// can fail into an HttpResponse a user can act on.
//
// Certificates are always verified: against `ca_file` when set, else the system's store. Proxies
// come from the environment as curl reads them: HTTPS_PROXY/https_proxy for https URLs,
// HTTP_PROXY/http_proxy for http ones, and NO_PROXY/no_proxy (comma-separated host suffixes, or
// "*") to bypass them. Send blocks for at most the timeout; Stop, from any thread, makes an
// in-flight Send return promptly. One Send at a time per sender.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>

#include "agent/notify/http_request.h"

namespace httplib {
class Client;
}

namespace portwatch::agent::notify {

struct SendOptions {
  std::string ca_file;                                          // empty: the system's CA store
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};  // connect, and each read/write
};

class HttpSender {
 public:
  HttpSender() = default;
  HttpSender(const HttpSender&) = delete;
  HttpSender& operator=(const HttpSender&) = delete;

  HttpResponse Send(const HttpRequest& request, const SendOptions& options);
  // Aborts the Send in flight, if any, and every later one (they return "stopped").
  void Stop();

 private:
  std::mutex mutex_;
  httplib::Client* current_ = nullptr;  // the client of the Send in flight; owned by Send
  bool stopped_ = false;
};

// The URL with its secrets cut: "https://hooks.slack.com/…" (scheme, host and port only).
std::string RedactUrl(std::string_view url);

}  // namespace portwatch::agent::notify
