// conn_farm: holds N established TCP loopback connections open for the snapshot benchmark.
//
// Usage: conn_farm [--per-worker K] N
//
// The connections are spread over worker processes because RLIMIT_NOFILE (20000 on our machines,
// not raisable) caps one process, and a connection whose both ends live in one process costs two
// fds. Each worker listens on its own 127.0.0.1 port, so each (source, destination, destination
// port) tuple needs at most K ephemeral ports out of ip_local_port_range (~28k), which lets 100k
// connections coexist. Owners are therefore spread over several processes, as on a real server.
//
// Protocol for the caller: "ready N" is printed on stdout once every connection is established;
// the farm then holds them until stdin reaches EOF or SIGTERM/SIGINT/SIGHUP arrives, and exits 0
// after reaping every worker. Workers die with the farm even when it is SIGKILLed
// (PR_SET_PDEATHSIG). On failure a message goes to stderr and the exit status is 1 (2 for usage).
//
// Linux only; plain POSIX sockets.
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

// Fds a worker keeps for itself (stdio, listener, status pipe) on top of two per connection.
constexpr long kReservedFds = 32;
// Upper bound per worker even when the fd limit is higher: keeps each worker's share of the
// ephemeral port range comfortable and the workers' exits quick.
constexpr long kMaxPerWorker = 9000;
// Connections opened before they are accepted; well under net.core.somaxconn (4096) so the
// listen queue never overflows into SYN cookies or dropped SYNs.
constexpr long kBatch = 512;

// A worker's one report to the parent. Smaller than PIPE_BUF, so writes from concurrent workers
// to the shared pipe never interleave.
struct WorkerReport {
  int worker = 0;
  int ok = 0;
  char message[240] = {};
};
static_assert(sizeof(WorkerReport) <= PIPE_BUF);

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "conn_farm: %s\n", message.c_str());
  std::exit(1);
}

constexpr const char* kUsage =
    "usage: conn_farm [--per-worker K] N\n"
    "  opens N established TCP connections on 127.0.0.1 across worker processes,\n"
    "  prints 'ready N', and holds them until stdin reaches EOF or SIGTERM\n";

[[noreturn]] void Usage(const std::string& problem) {
  std::fprintf(stderr, "conn_farm: %s\n%s", problem.c_str(), kUsage);
  std::exit(2);
}

long ParseCount(std::string_view text, std::string_view what) {
  char* end = nullptr;
  const std::string copy(text);
  errno = 0;
  const long value = std::strtol(copy.c_str(), &end, 10);
  if (copy.empty() || *end != '\0' || errno != 0 || value <= 0) {
    Usage(std::string(what) + " must be a positive integer, got '" + copy + "'");
  }
  return value;
}

std::string Errno(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// Size of the ephemeral port range, the number of connections one destination port can take.
long EphemeralPortCount() {
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  long low = 0;
  long high = 0;
  if (!(range >> low >> high) || high < low) return 28232;  // the kernel default range
  return high - low + 1;
}

// Raises the soft fd limit to the hard one (children inherit it) and returns it.
long RaiseFdLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) Die(Errno("getrlimit(RLIMIT_NOFILE)"));
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) Die(Errno("setrlimit(RLIMIT_NOFILE)"));
  }
  return limit.rlim_cur == RLIM_INFINITY ? kMaxPerWorker * 2 + kReservedFds
                                         : static_cast<long>(limit.rlim_cur);
}

void SendReport(int status_fd, int worker, bool ok, const std::string& message) {
  WorkerReport report;
  report.worker = worker;
  report.ok = ok ? 1 : 0;
  std::snprintf(report.message, sizeof report.message, "%s", message.c_str());
  // A short write is impossible below PIPE_BUF; a failed one means the parent is gone, and the
  // death signal is already on its way.
  [[maybe_unused]] const ssize_t written = write(status_fd, &report, sizeof report);
}

// Closing with an RST (zero linger) instead of a FIN keeps the farm's exit from leaving N
// TIME-WAIT sockets behind, which would inflate the socket table of the next measurement.
bool SetAbortiveClose(int fd) {
  const linger abort_on_close{.l_onoff = 1, .l_linger = 0};
  return setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close) == 0;
}

// Opens `count` connections to a listener of its own and returns an error message, or "" once all
// are established. The fds are deliberately never closed: holding them is the worker's job, and
// the kernel closes them when the worker is killed.
std::string OpenConnections(long count) {
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
  if (listener < 0) return Errno("socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  if (bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    return Errno("bind 127.0.0.1:0");
  }
  if (listen(listener, static_cast<int>(kBatch) * 2) != 0) return Errno("listen");
  if (getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return Errno("getsockname");
  }
  const std::string target = "127.0.0.1:" + std::to_string(ntohs(address.sin_port));

  long established = 0;
  while (established < count) {
    const long batch = std::min(kBatch, count - established);
    // Loopback connect() completes the handshake in the caller's context as long as the listen
    // queue has room, so a batch of blocking connects followed by as many accepts never waits.
    for (long i = 0; i < batch; ++i) {
      const int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
      if (client < 0) {
        return Errno("socket") + " after " + std::to_string(established + i) + " connections";
      }
      if (!SetAbortiveClose(client)) return Errno("setsockopt(SO_LINGER)");
      if (connect(client, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
        const bool ports_exhausted = errno == EADDRNOTAVAIL;
        return Errno(("connect to " + target).c_str()) + " after " +
               std::to_string(established + i) + " connections" +
               (ports_exhausted ? " (ephemeral ports exhausted: lower --per-worker)" : "");
      }
    }
    for (long i = 0; i < batch; ++i) {
      const int accepted = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (accepted < 0) return Errno(("accept on " + target).c_str());
      if (!SetAbortiveClose(accepted)) return Errno("setsockopt(SO_LINGER)");
    }
    established += batch;
  }
  // Only the established pairs are wanted in the socket table, not one LISTEN socket per worker.
  close(listener);
  return "";
}

[[noreturn]] void RunWorker(int worker, long count, pid_t parent, int status_fd) {
  // Die with the farm however it ends, SIGKILL included. The getppid() check closes the race of
  // the parent dying before prctl() took effect.
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(1);
  const std::string error = OpenConnections(count);
  SendReport(status_fd, worker, error.empty(), error);
  close(status_fd);
  if (!error.empty()) _exit(1);
  // Hold the connections; the parent ends workers with SIGKILL.
  for (;;) pause();
}

void KillAndReap(const std::vector<pid_t>& workers) {
  for (const pid_t pid : workers) kill(pid, SIGKILL);
  for (const pid_t pid : workers) {
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
}

// Reads one pending signal; returns its number, or 0 when there was none.
int TakeSignal(int signal_fd) {
  signalfd_siginfo info{};
  if (read(signal_fd, &info, sizeof info) != sizeof info) return 0;
  return static_cast<int>(info.ssi_signo);
}

// Waits for every worker's report. Returns an error message, "stop" when a stop signal arrived
// first, or "" once every worker holds its connections.
std::string AwaitWorkers(int status_fd, int signal_fd, size_t worker_count) {
  pollfd watched[2] = {{.fd = status_fd, .events = POLLIN, .revents = 0},
                       {.fd = signal_fd, .events = POLLIN, .revents = 0}};
  size_t ready = 0;
  while (ready < worker_count) {
    if (poll(watched, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return Errno("poll");
    }
    // A worker's death (SIGCHLD) is not acted on here: its report, or the pipe's EOF once every
    // worker has exited, says more.
    if (watched[1].revents != 0 && TakeSignal(signal_fd) != SIGCHLD) return "stop";
    if (watched[0].revents == 0) continue;
    WorkerReport report;
    const ssize_t got = read(status_fd, &report, sizeof report);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return Errno("read worker status");
    if (got == 0) return "a worker exited before reporting (see its message above, if any)";
    if (got != sizeof report) return "short worker report";
    report.message[sizeof report.message - 1] = '\0';
    if (report.ok == 0) return "worker " + std::to_string(report.worker) + ": " + report.message;
    ++ready;
  }
  return "";
}

// Blocks until stdin reaches EOF, a stop signal arrives, or a worker dies. Returns "" for a
// requested stop, or why the farm broke.
std::string HoldUntilStopped(int signal_fd) {
  pollfd watched[2] = {{.fd = STDIN_FILENO, .events = POLLIN, .revents = 0},
                       {.fd = signal_fd, .events = POLLIN, .revents = 0}};
  for (;;) {
    if (poll(watched, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return Errno("poll");
    }
    if (watched[0].revents != 0) {
      char discard[4096];
      const ssize_t got = read(STDIN_FILENO, discard, sizeof discard);
      if (got == 0 || (got < 0 && errno != EINTR && errno != EAGAIN)) return "";
    }
    if (watched[1].revents != 0) {
      const int signo = TakeSignal(signal_fd);
      if (signo == SIGCHLD) return "a worker died; its connections are gone";
      if (signo != 0) return "";
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  long per_worker = 0;
  long total = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--per-worker" && i + 1 < argc) {
      per_worker = ParseCount(argv[++i], "--per-worker");
    } else if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (total == 0 && !arg.starts_with("-")) {
      total = ParseCount(arg, "N");
    } else {
      Usage("unexpected argument '" + std::string(arg) + "'");
    }
  }
  if (total == 0) Usage("missing N, the number of connections");

  const long fd_limit = RaiseFdLimit();
  const long fd_capacity = (fd_limit - kReservedFds) / 2;
  const long port_capacity = EphemeralPortCount() - 256;  // leave room for the rest of the host
  if (fd_capacity <= 0) Die("RLIMIT_NOFILE " + std::to_string(fd_limit) + " is too low");
  if (per_worker == 0) per_worker = std::min({kMaxPerWorker, fd_capacity, port_capacity});
  if (per_worker > fd_capacity) {
    Die("--per-worker " + std::to_string(per_worker) + " needs " +
        std::to_string(per_worker * 2 + kReservedFds) + " fds but RLIMIT_NOFILE is " +
        std::to_string(fd_limit) + " (it cannot be raised here: use more workers)");
  }
  if (per_worker > port_capacity) {
    Die("--per-worker " + std::to_string(per_worker) +
        " exceeds the ephemeral port range (net.ipv4.ip_local_port_range)");
  }
  const long worker_count = (total + per_worker - 1) / per_worker;
  std::fprintf(stderr, "conn_farm: %ld connections over %ld worker processes\n", total,
               worker_count);

  // Stop signals and worker deaths arrive through a signalfd, so both waits are plain polls.
  // Blocked before the first fork so that no worker's death goes unnoticed; workers unblock.
  sigset_t watched_signals;
  sigemptyset(&watched_signals);
  for (const int signo : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&watched_signals, signo);
  if (sigprocmask(SIG_BLOCK, &watched_signals, nullptr) != 0) Die(Errno("sigprocmask"));
  const int signal_fd = signalfd(-1, &watched_signals, SFD_CLOEXEC);
  if (signal_fd < 0) Die(Errno("signalfd"));

  int status_pipe[2];
  if (pipe2(status_pipe, O_CLOEXEC) != 0) Die(Errno("pipe2"));
  const pid_t self = getpid();
  std::vector<pid_t> workers;
  for (long w = 0; w < worker_count; ++w) {
    // Even shares, so no worker is much bigger than the others.
    const long share = total / worker_count + (w < total % worker_count ? 1 : 0);
    std::fflush(nullptr);  // so buffered output is not duplicated into the child
    const pid_t pid = fork();
    if (pid < 0) {
      const std::string error = Errno("fork");
      KillAndReap(workers);
      Die(error);
    }
    if (pid == 0) {
      sigprocmask(SIG_UNBLOCK, &watched_signals, nullptr);
      close(signal_fd);
      close(status_pipe[0]);
      RunWorker(static_cast<int>(w), share, self, status_pipe[1]);
    }
    workers.push_back(pid);
  }
  // Without our own write end, the read side sees EOF once every worker has exited.
  close(status_pipe[1]);

  std::string error = AwaitWorkers(status_pipe[0], signal_fd, workers.size());
  if (error.empty()) {
    std::printf("ready %ld\n", total);
    std::fflush(stdout);
    error = HoldUntilStopped(signal_fd);
  } else if (error == "stop") {
    error.clear();
  }
  KillAndReap(workers);
  if (!error.empty()) Die(error);
  return 0;
}
