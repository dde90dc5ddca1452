// HttpSender: sends one HttpRequest with cpp-httplib (OpenSSL for https), and turns every way it
// can fail into an HttpResponse a user can act on.
//
// Certificates are always verified: against `ca_file` when set, else the system's store. Proxies
// come from the environment as curl reads them: HTTPS_PROXY/https_proxy for https URLs,
// HTTP_PROXY/http_proxy for http ones, and NO_PROXY/no_proxy (comma-separated host suffixes, or
// "*") to bypass them. Send blocks for at most the timeout; Stop, from any thread and at any time,
// makes an in-flight Send return promptly. One Send at a time per sender.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>

#include "agent/notify/http_request.h"
#include "collectors/result.h"

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
  // Aborts the Send in flight, if any, and every later one: they return "stopped". The Send in
  // flight returns within milliseconds whether it is connecting, talking to a proxy, in the TLS
  // handshake, sending or waiting for the answer; only a host name being looked up (getaddrinfo)
  // is waited for.
  void Stop();

 private:
  class Lender;  // lends Stop the socket a Send is using (http_sender.cpp)

  std::mutex mutex_;
  // A duplicate of the descriptor of the socket the Send in flight is using, for Stop to shut
  // down; -1 when none. Owned by that Send's Lender. (httplib's own stop() waits while httplib
  // connects, talks to a proxy or shakes hands, and the descriptor httplib holds may be closed,
  // and its number reused, by the time Stop runs.)
  int lent_socket_ = -1;
  bool stopped_ = false;
};

// Whether `url` is one Send can use (http or https, a host, a valid port, no spaces); the error
// says what is wrong without repeating the URL's path or query (where secrets live).
Result<void> CheckUrl(std::string_view url);

// The URL with its secrets cut: "https://hooks.slack.com/…" (scheme, host and port only).
std::string RedactUrl(std::string_view url);

}  // namespace portwatch::agent::notify
