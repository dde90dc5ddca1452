#include "agent/notify/http_sender.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <httplib.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/x509_vfy.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <tuple>
#include <utility>

#include "collectors/cidr.h"
#include "collectors/endpoint.h"
#include "collectors/parse_number.h"
#include "collectors/result.h"

namespace portwatch::agent::notify {

namespace {

using std::chrono::milliseconds;

constexpr size_t kMaxBodyKept = 4096;
// Past the 4 KiB kept, a response body is read and dropped up to this size, then the connection
// is dropped: far more than any receiver's error page, and a runaway body cannot fill memory.
constexpr uint64_t kMaxBodyRead = 1 << 20;
// A longer Retry-After is taken for a server's mistake, not a wish to hear nothing for days.
constexpr std::chrono::hours kMaxRetryAfter(24);
// curl's default port for a proxy URL that names none.
constexpr int kDefaultProxyPort = 1080;

constexpr const char* kNeedsScheme = "the URL must start with https:// or http://";
// cpp-httplib 0.11 checks an IPv6 address against a certificate's IP entries by reading 16 bytes
// of each, past the end of a 4-byte IPv4 entry (AddressSanitizer reports the over-read), so https
// goes only to host names and IPv4 addresses.
constexpr const char* kNoTlsToIpv6 =
    "https to an IPv6 address is not supported; use a host name that resolves to it";

std::string Lower(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

int DefaultPort(std::string_view scheme) {
  if (scheme == "https") return 443;
  if (scheme == "http") return 80;
  return 0;
}

struct Url {
  std::string scheme;    // lower case
  std::string userinfo;  // as written, percent-encoded
  std::string host;      // lower case; an IPv6 literal without its brackets
  bool ipv6 = false;
  int port = 0;  // the scheme's default when the URL names none
  bool explicit_port = false;
  std::string target;  // path and query, "/" at least; the fragment is dropped

  std::string BracketedHost() const { return ipv6 ? fmt::format("[{}]", host) : host; }
};

bool IsHostNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
         c == '~' || c == '%';
}

// Accepts any scheme, so that RedactUrl can show what it is; Send insists on http and https.
Result<Url> ParseUrl(std::string_view text) {
  const size_t scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos || scheme_end == 0) return Error{kNeedsScheme};
  Url url;
  url.scheme = Lower(text.substr(0, scheme_end));
  if (!std::all_of(url.scheme.begin(), url.scheme.end(),
                   [](unsigned char c) { return std::isalpha(c) != 0; })) {
    return Error{kNeedsScheme};
  }
  // Spaces and line breaks would end up in the request line as they are.
  if (std::any_of(text.begin(), text.end(),
                  [](unsigned char c) { return c <= ' ' || c == 0x7f; })) {
    return Error{"the URL must not contain spaces or control characters; write a space as %20"};
  }
  std::string_view rest = text.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find('#'));
  const size_t authority_end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, authority_end);
  url.target =
      authority_end == std::string_view::npos ? "/" : std::string(rest.substr(authority_end));
  if (url.target[0] == '?') url.target.insert(0, "/");

  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    url.userinfo = std::string(authority.substr(0, at));
    authority.remove_prefix(at + 1);
  }
  std::optional<std::string_view> port_text;
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return Error{"the URL's IPv6 address lacks its closing ]"};
    url.host = Lower(authority.substr(1, close - 1));
    url.ipv6 = true;
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return Error{"the URL's IPv6 address must be followed by :port or /"};
      port_text = after.substr(1);
    }
    const std::optional<collectors::Address> address = collectors::Address::Parse(url.host);
    if (!address || address->family != collectors::Family::kIpv6) {
      return Error{fmt::format("the URL's host [{}] is not an IPv6 address", url.host)};
    }
  } else {
    const size_t colon = authority.find(':');
    url.host = Lower(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
    if (!std::all_of(url.host.begin(), url.host.end(), IsHostNameChar)) {
      return Error{fmt::format("the URL's host '{}' is not a valid host name", url.host)};
    }
  }
  if (url.host.empty()) return Error{"the URL has no host"};
  url.port = DefaultPort(url.scheme);
  if (port_text) {
    uint16_t port = 0;
    if (!collectors::ParseNumber(*port_text, port) || port == 0) {
      return Error{"the URL's port must be a number from 1 to 65535"};
    }
    url.port = port;
    url.explicit_port = true;
  }
  return url;
}

std::string PercentDecode(std::string_view text) {
  std::string decoded;
  for (size_t i = 0; i < text.size(); ++i) {
    uint8_t byte = 0;
    if (text[i] == '%' && i + 2 < text.size() &&
        collectors::ParseNumber(text.substr(i + 1, 2), byte, 16)) {
      decoded += static_cast<char>(byte);
      i += 2;
    } else {
      decoded += text[i];
    }
  }
  return decoded;
}

// "user:password" (percent-encoded, as in a URL) as the two decoded parts.
std::pair<std::string, std::string> SplitUserinfo(std::string_view userinfo) {
  const size_t colon = userinfo.find(':');
  if (colon == std::string_view::npos) return {PercentDecode(userinfo), ""};
  return {PercentDecode(userinfo.substr(0, colon)), PercentDecode(userinfo.substr(colon + 1))};
}

std::optional<std::string_view> GetEnv(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return value;
}

// NO_PROXY as curl reads it: "*", or a comma-separated list of host names (which also cover
// their subdomains, with or without a leading dot), IP addresses and CIDR blocks.
bool BypassesProxy(const Url& url, std::string_view no_proxy) {
  const std::optional<collectors::Address> address = collectors::Address::Parse(url.host);
  while (!no_proxy.empty()) {
    const size_t comma = no_proxy.find(',');
    std::string_view entry = Trim(no_proxy.substr(0, comma));
    no_proxy.remove_prefix(comma == std::string_view::npos ? no_proxy.size() : comma + 1);
    if (entry == "*") return true;
    if (entry.empty()) continue;
    if (address) {
      if (entry.starts_with('[') && entry.ends_with(']')) entry = entry.substr(1, entry.size() - 2);
      if (entry.find('/') != std::string_view::npos) {
        const Result<collectors::Cidr> block = collectors::Cidr::Parse(entry);
        if (block.ok() && block->Contains(*address)) return true;
      } else if (collectors::Address::Parse(entry) == address) {
        return true;
      }
      continue;
    }
    if (entry.starts_with('.')) entry.remove_prefix(1);
    const std::string name = Lower(entry);
    if (url.host == name) return true;
    if (url.host.size() > name.size() && url.host.ends_with(name) &&
        url.host[url.host.size() - name.size() - 1] == '.') {
      return true;
    }
  }
  return false;
}

struct Proxy {
  std::string host;
  int port = 0;
  std::string user;
  std::string password;
  std::string variable;  // the environment variable it came from, for messages
};

// The proxy curl would use for url, read from the environment on every call so that a changed
// environment takes effect; none when no variable is set or NO_PROXY exempts the host.
Result<std::optional<Proxy>> ProxyFor(const Url& url) {
  const bool https = url.scheme == "https";
  const char* const names[] = {https ? "https_proxy" : "http_proxy",
                               https ? "HTTPS_PROXY" : "HTTP_PROXY"};
  const char* variable = nullptr;
  std::optional<std::string_view> value;
  for (const char* name : names) {
    value = GetEnv(name);
    if (value) {
      variable = name;
      break;
    }
  }
  if (!value) return std::optional<Proxy>();
  std::optional<std::string_view> no_proxy = GetEnv("no_proxy");
  if (!no_proxy) no_proxy = GetEnv("NO_PROXY");
  if (no_proxy && BypassesProxy(url, *no_proxy)) return std::optional<Proxy>();

  std::string text(*value);
  if (text.find("://") == std::string::npos) text.insert(0, "http://");
  const Result<Url> parsed = ParseUrl(text);
  if (!parsed.ok()) {
    return Error{fmt::format("{} must be a proxy URL like http://host:port", variable)};
  }
  if (parsed->scheme != "http") {
    return Error{fmt::format("{} is a {}:// proxy; only http:// proxies are supported", variable,
                             parsed->scheme)};
  }
  Proxy proxy;
  proxy.host = parsed->host;
  proxy.port = parsed->explicit_port ? parsed->port : kDefaultProxyPort;
  std::tie(proxy.user, proxy.password) = SplitUserinfo(parsed->userinfo);
  proxy.variable = variable;
  return std::optional<Proxy>(std::move(proxy));
}

// The Host header httplib would get wrong for an IPv6 literal on the default port (it leaves out
// the brackets), so Send always sets it.
std::string HostHeader(const Url& url) {
  if (url.port == DefaultPort(url.scheme)) return url.BracketedHost();
  return fmt::format("{}:{}", url.BracketedHost(), url.port);
}

// httplib's client, Base being httplib::ClientImpl for http or httplib::SSLClient for https, that
// gives up once connected when `stopped` says so. Stop aborts a connect in progress by shutting
// its socket down, but a socket shut down just before its connect begins still connects, and
// httplib takes it for connected at once: an http exchange would then wait up to the timeout for
// the connection to come up, and a TLS handshake would spin until the kernel gives up on it,
// minutes later. This protected virtual of httplib is the only way in between its connect and
// the rest of the exchange.
template <class Base>
class StoppableClient final : public Base {
 public:
  StoppableClient(const std::string& host, int port, std::function<bool()> stopped)
      : Base(host, port), stopped_(std::move(stopped)) {}

 private:
  bool create_and_connect_socket(httplib::ClientImpl::Socket& socket,
                                 httplib::Error& error) override {
    // The check SSLClient's own override (which is private) adds, then httplib's connect.
    if (!this->is_valid() || !httplib::ClientImpl::create_and_connect_socket(socket, error)) {
      return false;
    }
    if (!stopped_()) return true;
    close(socket.sock);
    socket.sock = INVALID_SOCKET;
    error = httplib::Error::Canceled;
    return false;
  }

  std::function<bool()> stopped_;
};

Result<std::unique_ptr<httplib::ClientImpl>> MakeClient(const Url& url,
                                                        std::function<bool()> stopped) {
  try {
    std::unique_ptr<httplib::ClientImpl> client;
    if (url.scheme == "https") {
      client = std::make_unique<StoppableClient<httplib::SSLClient>>(url.host, url.port,
                                                                     std::move(stopped));
    } else {
      client = std::make_unique<StoppableClient<httplib::ClientImpl>>(url.host, url.port,
                                                                      std::move(stopped));
    }
    if (!client->is_valid()) return Error{"TLS: cannot set up OpenSSL"};
    return client;
  } catch (const std::exception& e) {
    return Error{fmt::format("cannot set up the HTTP client: {}", e.what())};
  }
}

class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ~ScopedFd() {
    if (fd_ >= 0) close(fd_);
  }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;

  int get() const { return fd_; }
  // Closes the descriptor held, if any, and takes fd.
  void Reset(int fd) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

std::string LowerFirst(std::string text) {
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

// connect(2) on a non-blocking socket, given up after `timeout`: 0, or the error it failed with
// (ETIMEDOUT when the time ran out).
int ConnectWithin(int fd, const addrinfo& address, milliseconds timeout) {
  if (connect(fd, address.ai_addr, address.ai_addrlen) == 0) return 0;
  if (errno != EINPROGRESS) return errno;
  pollfd connected{fd, POLLOUT, 0};
  int ready = 0;
  do {
    ready = poll(&connected, 1, static_cast<int>(timeout.count()));
  } while (ready < 0 && errno == EINTR);
  if (ready < 0) return errno;
  if (ready == 0) return ETIMEDOUT;
  int error = 0;
  socklen_t size = sizeof(error);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0) return errno;
  return error;
}

// Lends Stop a socket (see HttpSender::Lender); false once stopped, when it must not be used.
using Lend = std::function<bool(int socket)>;

// Why httplib's Error::Connection happened. httplib reports a name that does not resolve and a
// refused or unreachable address alike and keeps neither error, so this asks again; it runs only
// after a failure. Its connects are lent to Stop like httplib's; once stopped it says so.
std::string WhyNoConnection(const std::string& host, int port, const std::string& what,
                            milliseconds timeout, const Lend& lend) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int resolved = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (resolved != 0) {
    return fmt::format("could not resolve host {} ({})", host,
                       resolved == EAI_SYSTEM ? std::strerror(errno) : gai_strerror(resolved));
  }
  const std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addresses(found, freeaddrinfo);
  const milliseconds probe_timeout = std::min<milliseconds>(timeout, std::chrono::seconds(2));
  int error = 0;
  for (const addrinfo* address = found; address != nullptr; address = address->ai_next) {
    const ScopedFd fd(socket(address->ai_family,
                             address->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                             address->ai_protocol));
    if (fd.get() < 0) {
      error = errno;
      continue;
    }
    if (!lend(fd.get())) return "stopped";
    error = ConnectWithin(fd.get(), *address, probe_timeout);
    if (error == 0) {
      return fmt::format("could not connect to {}", what);  // it answers now: a passing failure
    }
  }
  if (error == ETIMEDOUT) return fmt::format("no answer from {}", what);
  return fmt::format("could not connect to {} ({})", what, LowerFirst(std::strerror(error)));
}

// The reason of the first OpenSSL error queued on this thread ("wrong version number"), or "".
// The first is the cause; httplib's clean-up queues more ("shutdown while in init").
std::string OpenSslReason() {
  const unsigned long code = ERR_peek_error();
  const char* reason = code == 0 ? nullptr : ERR_reason_error_string(code);
  return reason == nullptr ? "" : reason;
}

std::string Seconds(milliseconds duration) {
  return fmt::format("{:g} s", static_cast<double>(duration.count()) / 1000.0);
}

struct Attempt {
  const Url& url;
  const std::string& where;  // the redacted URL
  const std::optional<Proxy>& proxy;
  const SendOptions& options;
  milliseconds elapsed;
  long verify_result;
  const Lend& lend;
};

std::string DescribeUntrusted(const Attempt& attempt) {
  const std::string reason = X509_verify_cert_error_string(attempt.verify_result);
  switch (attempt.verify_result) {
    case X509_V_OK:
      // OpenSSL accepted the chain; httplib's own check of the name failed.
      return fmt::format(
          "TLS: the server's certificate is not valid for {}; use a URL with a name the "
          "certificate lists",
          attempt.url.BracketedHost());
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_UNTRUSTED:
      if (attempt.options.ca_file.empty()) {
        return fmt::format(
            "TLS: the server's certificate is not trusted ({}); set ca_file to the CA that "
            "signed it",
            reason);
      }
      return fmt::format(
          "TLS: the server's certificate is not trusted ({}); ca_file {} does not hold the CA "
          "that signed it",
          reason, attempt.options.ca_file);
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return fmt::format(
          "TLS: the server's certificate is not valid now ({}); check it and this machine's clock",
          reason);
    default:
      return fmt::format("TLS: certificate verification failed ({})", reason);
  }
}

// One line a user can act on; never the URL's path, query or userinfo.
std::string DescribeFailure(httplib::Error error, const Attempt& attempt) {
  const std::string timeout = Seconds(attempt.options.timeout);
  const bool timed_out = attempt.elapsed >= attempt.options.timeout;
  // The connection goes to the proxy when there is one; the exchange goes through it.
  const std::string proxy = attempt.proxy
                                ? fmt::format("the proxy {}:{} from {}", attempt.proxy->host,
                                              attempt.proxy->port, attempt.proxy->variable)
                                : "";
  const std::string connecting_to = attempt.proxy ? proxy : attempt.where;
  const std::string via =
      attempt.proxy ? fmt::format("{} through {}", attempt.where, proxy) : attempt.where;
  switch (error) {
    case httplib::Error::Connection:
      return attempt.proxy ? WhyNoConnection(attempt.proxy->host, attempt.proxy->port,
                                             connecting_to, attempt.options.timeout, attempt.lend)
                           : WhyNoConnection(attempt.url.host, attempt.url.port, connecting_to,
                                             attempt.options.timeout, attempt.lend);
    case httplib::Error::ConnectionTimeout:
      return fmt::format("timed out after {} connecting to {}", timeout, connecting_to);
    case httplib::Error::Read:
      if (timed_out) return fmt::format("timed out after {} waiting for {}", timeout, via);
      return fmt::format("{} closed the connection without a valid HTTP response", via);
    case httplib::Error::Write:
      if (timed_out) return fmt::format("timed out after {} sending to {}", timeout, via);
      return fmt::format("{} closed the connection while the request was sent", via);
    case httplib::Error::SSLConnection: {
      if (timed_out) {
        return fmt::format("timed out after {} in the TLS handshake with {}", timeout, via);
      }
      const std::string reason = OpenSslReason();
      if (attempt.proxy) {
        // httplib 0.11 does not look at the status of the proxy's answer to CONNECT: a refusal
        // shows up here, as a handshake with the proxy's error page.
        return fmt::format(
            "TLS handshake with {} failed ({}); the proxy may have refused to connect", via,
            reason.empty() ? "the connection was closed" : reason);
      }
      return fmt::format("TLS handshake with {} failed ({})", via,
                         reason.empty() ? "the server closed the connection" : reason);
    }
    case httplib::Error::SSLLoadingCerts: {
      if (attempt.options.ca_file.empty()) return "TLS: cannot load the system's CA certificates";
      const std::string reason = OpenSslReason();
      return fmt::format("cannot read ca_file {} ({})", attempt.options.ca_file,
                         reason.empty() ? "no PEM certificate in it" : reason);
    }
    case httplib::Error::SSLServerVerification:
      return DescribeUntrusted(attempt);
    case httplib::Error::Compression:
      return fmt::format("cannot decompress the response of {}", attempt.where);
    default:
      return fmt::format("the request to {} failed ({})", attempt.where, httplib::to_string(error));
  }
}

// "Sun, 06 Nov 1994 08:49:37 GMT", the IMF-fixdate of RFC 7231 that servers send.
std::optional<std::chrono::sys_seconds> ParseHttpDate(std::string_view text) {
  static constexpr std::string_view kDays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (text.size() != 29 || text.substr(3, 2) != ", " || text[7] != ' ' || text[11] != ' ' ||
      text[16] != ' ' || text[19] != ':' || text[22] != ':' || text.substr(25) != " GMT") {
    return std::nullopt;
  }
  if (std::find(std::begin(kDays), std::end(kDays), text.substr(0, 3)) == std::end(kDays)) {
    return std::nullopt;
  }
  const auto month = std::find(std::begin(kMonths), std::end(kMonths), text.substr(8, 3));
  unsigned day = 0;
  int year = 0;
  unsigned hour = 0;
  unsigned minute = 0;
  unsigned second = 0;
  if (month == std::end(kMonths) || !collectors::ParseNumber(text.substr(5, 2), day) ||
      !collectors::ParseNumber(text.substr(12, 4), year) ||
      !collectors::ParseNumber(text.substr(17, 2), hour) ||
      !collectors::ParseNumber(text.substr(20, 2), minute) ||
      !collectors::ParseNumber(text.substr(23, 2), second) || hour > 23 || minute > 59 ||
      second > 60) {
    return std::nullopt;
  }
  const std::chrono::year_month_day date{
      std::chrono::year(year),
      std::chrono::month(static_cast<unsigned>(month - std::begin(kMonths) + 1)),
      std::chrono::day(day)};
  if (!date.ok()) return std::nullopt;
  return std::chrono::sys_days(date) + std::chrono::hours(hour) + std::chrono::minutes(minute) +
         std::chrono::seconds(second);
}

// Retry-After as delta-seconds or an HTTP date; a date in the past means now.
std::optional<milliseconds> ParseRetryAfter(std::string_view value) {
  value = Trim(value);
  if (value.empty()) return std::nullopt;
  const milliseconds most = kMaxRetryAfter;
  if (std::all_of(value.begin(), value.end(),
                  [](unsigned char c) { return std::isdigit(c) != 0; })) {
    uint64_t seconds = 0;
    // Too many digits for a number is too long a wait anyway.
    if (!collectors::ParseNumber(value, seconds) ||
        seconds > static_cast<uint64_t>(std::chrono::seconds(kMaxRetryAfter).count())) {
      return most;
    }
    return std::chrono::seconds(seconds);
  }
  const std::optional<std::chrono::sys_seconds> date = ParseHttpDate(value);
  if (!date) return std::nullopt;
  const auto wait =
      std::chrono::duration_cast<milliseconds>(*date - std::chrono::system_clock::now());
  return std::clamp<milliseconds>(wait, milliseconds(0), most);
}

// OpenSSL writes to its socket with write(2), so a peer that has gone raises SIGPIPE, whose
// default action ends the process. This blocks it on the calling thread for the exchange and takes
// one raised meanwhile off the queue before unblocking, so that the sender is safe in a program
// that does not ignore SIGPIPE.
class SigpipeBlocked {
 public:
  SigpipeBlocked() {
    sigemptyset(&sigpipe_);
    sigaddset(&sigpipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &sigpipe_, &previous_);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
  }
  ~SigpipeBlocked() {
    sigset_t pending;
    sigpending(&pending);
    if (!was_pending_ && sigismember(&pending, SIGPIPE) == 1) {
      const timespec now{};
      sigtimedwait(&sigpipe_, nullptr, &now);
    }
    pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }
  SigpipeBlocked(const SigpipeBlocked&) = delete;
  SigpipeBlocked& operator=(const SigpipeBlocked&) = delete;

 private:
  sigset_t sigpipe_;
  sigset_t previous_;
  bool was_pending_ = false;
};

HttpResponse Failure(std::string message) {
  HttpResponse response;
  response.error = std::move(message);
  return response;
}

bool HasLineBreak(std::string_view text) { return text.find_first_of("\r\n") != text.npos; }

}  // namespace

// Lends Stop, through lent_socket_, a duplicate of each socket a Send uses, httplib's and its own,
// from just before the socket connects until the Send ends. Shutting a socket down wakes whatever
// waits on it: a connect in progress fails, a read finds the end of the stream and a write fails,
// so each stage of the exchange ends at once, through whichever descriptor. Used on the Send's
// thread; without a descriptor to spare for the duplicate, Stop cannot reach the socket and the
// Send ends at its timeout.
class HttpSender::Lender {
 public:
  explicit Lender(HttpSender& sender) : sender_(sender) {}
  ~Lender() {
    std::lock_guard<std::mutex> lock(sender_.mutex_);
    sender_.lent_socket_ = -1;
  }
  Lender(const Lender&) = delete;
  Lender& operator=(const Lender&) = delete;

  // Lends socket in place of the one lent before; false, lending nothing, once stopped.
  bool Lend(int socket) {
    std::lock_guard<std::mutex> lock(sender_.mutex_);
    if (sender_.stopped_) return false;
    duplicate_.Reset(fcntl(socket, F_DUPFD_CLOEXEC, 0));
    sender_.lent_socket_ = duplicate_.get();
    return true;
  }

  bool stopped() const {
    std::lock_guard<std::mutex> lock(sender_.mutex_);
    return sender_.stopped_;
  }

 private:
  HttpSender& sender_;
  ScopedFd duplicate_{-1};
};

HttpResponse HttpSender::Send(const HttpRequest& request, const SendOptions& options) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopped_) return Failure("stopped");
  }

  // 1. Everything that can be checked before connecting.
  const Result<Url> url = ParseUrl(request.url);
  if (!url.ok()) return Failure(url.error().message);
  if (url->scheme != "http" && url->scheme != "https") return Failure(kNeedsScheme);
  if (url->scheme == "https" && url->ipv6) return Failure(kNoTlsToIpv6);
  for (const auto& [name, value] : request.headers) {
    if (HasLineBreak(name) || HasLineBreak(value)) {
      return Failure(HasLineBreak(name)
                         ? std::string("a request header's name holds a line break")
                         : fmt::format("request header {} holds a line break", name));
    }
  }
  const bool https = url->scheme == "https";
  if (https && !options.ca_file.empty()) {
    // OpenSSL would only say that it loaded nothing.
    std::FILE* ca_file = std::fopen(options.ca_file.c_str(), "r");
    if (ca_file == nullptr) {
      return Failure(
          fmt::format("cannot read ca_file {}: {}", options.ca_file, std::strerror(errno)));
    }
    std::fclose(ca_file);
  }
  const Result<std::optional<Proxy>> proxy = ProxyFor(*url);
  if (!proxy.ok()) return Failure(proxy.error().message);
  const std::string where = RedactUrl(request.url);

  // 2. The client, and the request with a body capped as it arrives. SIGPIPE stays blocked until
  // the client is gone, as its destructor may still shut a TLS session down. Each socket httplib
  // opens is lent to Stop before it connects; one opened once stopped is shut down there and
  // then, so that its connect ends at once and the client gives up.
  const SigpipeBlocked sigpipe_blocked;
  Lender lender(*this);
  const Lend lend = [&lender](int socket) { return lender.Lend(socket); };
  Result<std::unique_ptr<httplib::ClientImpl>> made =
      MakeClient(*url, [&lender] { return lender.stopped(); });
  if (!made.ok()) return Failure(made.error().message);
  httplib::ClientImpl& client = **made;
  client.set_socket_options([&lend](int socket) {
    if (!lend(socket)) shutdown(socket, SHUT_RDWR);
  });
  client.enable_server_certificate_verification(true);
  if (https && !options.ca_file.empty()) client.set_ca_cert_path(options.ca_file);
  client.set_connection_timeout(options.timeout);
  client.set_read_timeout(options.timeout);
  client.set_write_timeout(options.timeout);
  client.set_keep_alive(false);
  client.set_follow_location(false);
  // The URL is the receiver's and already encoded; httplib's encoding would turn a '+' in its
  // query into %2B.
  client.set_url_encode(false);
  if (!url->userinfo.empty()) {
    const auto [user, password] = SplitUserinfo(url->userinfo);
    client.set_basic_auth(user, password);
  }
  if (*proxy) {
    client.set_proxy((*proxy)->host, (*proxy)->port);
    if (!(*proxy)->user.empty()) client.set_proxy_basic_auth((*proxy)->user, (*proxy)->password);
  }

  httplib::Request post;
  post.method = "POST";
  post.path = url->target;
  for (const auto& [name, value] : request.headers) post.headers.emplace(name, value);
  if (!post.has_header("Content-Type") && !request.content_type.empty()) {
    post.headers.emplace("Content-Type", request.content_type);
  }
  if (!post.has_header("Host")) post.headers.emplace("Host", HostHeader(*url));
  post.body = request.body;
  std::string body;
  uint64_t body_read = 0;
  bool body_cut = false;
  post.content_receiver = [&](const char* data, size_t size, uint64_t, uint64_t) {
    body.append(data, std::min(size, kMaxBodyKept - body.size()));
    body_read += size;
    body_cut = body_read > kMaxBodyRead;
    return !body_cut;
  };
  // The status and headers of a response whose body gets cut, which httplib then discards.
  httplib::Response head;
  post.response_handler = [&](const httplib::Response& response) {
    head.status = response.status;
    head.headers = response.headers;
    return true;
  };

  // 3. The exchange, which Stop can cut short.
  if (lender.stopped()) return Failure("stopped");
  ERR_clear_error();
  const auto start = std::chrono::steady_clock::now();
  std::optional<httplib::Result> result;
  std::string exception;
  try {
    result.emplace(client.send(post));
  } catch (const std::exception& e) {
    exception = e.what();
  }
  const auto elapsed =
      std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);

  // 4. What came back.
  const httplib::Response* response = nullptr;
  if (result && *result) {
    response = &result->value();
  } else if (result && result->error() == httplib::Error::Canceled && body_cut) {
    response = &head;
  }
  if (response != nullptr) {
    HttpResponse answer;
    answer.status = response->status;
    // A proxy's 407 to CONNECT comes back as the response, its body kept by httplib.
    answer.body = body.empty() ? response->body.substr(0, kMaxBodyKept) : std::move(body);
    answer.retry_after = ParseRetryAfter(response->get_header_value("Retry-After"));
    return answer;
  }
  if (lender.stopped()) return Failure("stopped");
  if (!result) return Failure(fmt::format("the request to {} failed ({})", where, exception));
  const long verify_result =
      https ? static_cast<const httplib::SSLClient&>(client).get_openssl_verify_result() : 0;
  const Attempt attempt{*url, where, *proxy, options, elapsed, verify_result, lend};
  std::string failure = DescribeFailure(result->error(), attempt);
  // Stop may have cut the probe of a connection failure short.
  if (lender.stopped()) return Failure("stopped");
  return Failure(std::move(failure));
}

void HttpSender::Stop() {
  std::lock_guard<std::mutex> lock(mutex_);
  stopped_ = true;
  if (lent_socket_ >= 0) shutdown(lent_socket_, SHUT_RDWR);
}

Result<void> CheckUrl(std::string_view url) {
  const Result<Url> parsed = ParseUrl(url);
  if (!parsed) return parsed.error();
  if (parsed->scheme != "http" && parsed->scheme != "https") return Error{kNeedsScheme};
  if (parsed->scheme == "https" && parsed->ipv6) return Error{kNoTlsToIpv6};
  return Ok();
}

std::string RedactUrl(std::string_view url) {
  const Result<Url> parsed = ParseUrl(url);
  if (!parsed.ok()) return "(URL hidden)";
  std::string redacted = fmt::format("{}://{}", parsed->scheme, parsed->BracketedHost());
  if (parsed->explicit_port) redacted += fmt::format(":{}", parsed->port);
  if (parsed->target != "/") redacted += "/…";
  return redacted;
}

}  // namespace portwatch::agent::notify
