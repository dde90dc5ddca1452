// The Linux collector: sock_diag through libmnl, /proc/net fallbacks, owners from /proc/*/fd.

#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "collectors/collector.h"
#include "collectors/derive.h"
#include "collectors/linux/proc_net_parser.h"
#include "collectors/linux/proc_owners.h"
#include "collectors/linux/process_reader.h"
#include "collectors/linux/sock_diag.h"

namespace portwatch::collectors {

namespace {

using linux::DumpOutcome;

std::optional<std::string> ReadWholeFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string content;
  char buffer[65536];
  for (;;) {
    const ssize_t got = read(fd, buffer, sizeof(buffer));
    if (got < 0) {
      if (errno == EINTR) continue;
      close(fd);
      return std::nullopt;
    }
    if (got == 0) break;
    content.append(buffer, static_cast<size_t>(got));
  }
  close(fd);
  return content;
}

class LinuxCollector final : public Collector {
 public:
  explicit LinuxCollector(CollectorOptions options)
      : options_(std::move(options)), processes_(options_.proc_root) {
    struct stat info;
    if (stat((options_.proc_root + "/self/ns/net").c_str(), &info) == 0) netns_ = info.st_ino;
  }

  Result<Snapshot> Collect() override {
    const auto started = std::chrono::steady_clock::now();
    Snapshot snapshot;
    snapshot.taken_at = std::chrono::system_clock::now();
    snapshot.netns = netns_;
    const size_t expected = ExpectedSockets();
    snapshot.sockets.reserve(expected);

    if (!options_.owners) {
      if (Result<void> sockets = CollectSockets(snapshot); !sockets) return sockets.error();
    } else if (Result<void> owned = CollectWithOwners(snapshot, expected); !owned) {
      return owned.error();
    }
    DeriveFields(snapshot);
    ReadHostNetwork(snapshot.host);
    processes_.FinishPass();
    snapshot.duration = std::chrono::steady_clock::now() - started;
    return snapshot;
  }

 private:
  // The owners from the last full /proc/*/fd scan, reused while nothing could have changed them:
  // the same processes exist and every socket was already there at that scan. A socket passed
  // between running processes (SCM_RIGHTS) or a shared one closed by one of its holders shows
  // its new owners at the next full scan, at most kRescanEvery later. Only which pids hold which
  // sockets is reused: each owner is still passed through ProcessReader::Read in JoinOwners,
  // which checks its identity (an execve changes neither pids nor sockets), so the snapshot's
  // Process values are always this pass's.
  struct OwnerCache {
    linux::OwnerScan scan;
    std::vector<int32_t> pids;             // sorted
    std::unordered_set<uint64_t> covered;  // sockets whose owners the scan tells
    std::unordered_set<uint64_t> all;      // every socket the dump had then
    std::chrono::steady_clock::time_point taken;
  };
  static constexpr std::chrono::seconds kRescanEvery{30};

  Result<void> CollectWithOwners(Snapshot& snapshot, size_t expected) {
    std::vector<int32_t> pids = linux::ListPids(options_.proc_root);
    const auto now = std::chrono::steady_clock::now();
    if (cache_ && cache_->pids == pids && now - cache_->taken < kRescanEvery) {
      // 1. Perhaps nothing changed: dump first, then see whether the last scan covers it.
      if (Result<void> sockets = CollectSockets(snapshot); !sockets) return sockets.error();
      const bool covered = std::all_of(
          snapshot.sockets.begin(), snapshot.sockets.end(), [this](const Socket& socket) {
            // Inode 0 (TIME_WAIT, orphans) never has an owner to find.
            return socket.inode == 0 || cache_->covered.contains(socket.inode);
          });
      if (covered) {
        snapshot.owners_reused = true;
        JoinOwners(cache_->scan, snapshot);
        return Ok();
      }
      Result<linux::OwnerScan> scan = linux::ScanSocketOwners(options_.proc_root, expected);
      if (!scan) return scan.error();
      Remember(std::move(scan).value(), std::move(pids), snapshot, now);
      return Ok();
    }
    // 2. The fd scan and the netlink dumps are independent system-call-bound passes: run them
    //    side by side so the snapshot costs about the longer of the two, not their sum.
    std::optional<Result<linux::OwnerScan>> scan;
    std::thread scanner([this, &scan, expected] {
      scan.emplace(linux::ScanSocketOwners(options_.proc_root, expected));
    });
    Result<void> sockets = CollectSockets(snapshot);
    scanner.join();
    if (!sockets) return sockets.error();
    if (!scan->ok()) return scan->error();
    Remember(std::move(*scan).value(), std::move(pids), snapshot, now);
    return Ok();
  }

  // Joins the scan's owners to the snapshot and keeps the scan for the next snapshots. A socket
  // counts as covered when the scan found its owner, or when it was already there, ownerless, at
  // the scan before (its holder is out of sight: another pid namespace, no permission). A new
  // socket without an owner may have been opened after the scan read its process's fds (the scan
  // and the dump run side by side), so it makes the next snapshot scan again.
  void Remember(linux::OwnerScan scan, std::vector<int32_t> pids, Snapshot& snapshot,
                std::chrono::steady_clock::time_point taken) {
    std::unordered_set<uint64_t> previous;
    if (cache_) previous = std::move(cache_->all);
    cache_.emplace(OwnerCache{std::move(scan), std::move(pids), {}, {}, taken});
    JoinOwners(cache_->scan, snapshot);
    cache_->covered.reserve(snapshot.sockets.size());
    cache_->all.reserve(snapshot.sockets.size());
    for (const Socket& socket : snapshot.sockets) {
      cache_->all.insert(socket.inode);
      if (socket.owner_count > 0 || previous.contains(socket.inode)) {
        cache_->covered.insert(socket.inode);
      }
    }
  }

  void ReadHostNetwork(HostNetwork& host) const {
    linux::ParseHostNetwork(
        ReadWholeFile(options_.proc_root + "/net/netstat").value_or(""),
        ReadWholeFile(options_.proc_root + "/sys/net/ipv4/ip_local_port_range").value_or(""),
        ReadWholeFile(options_.proc_root + "/sys/net/ipv4/ip_unprivileged_port_start").value_or(""),
        host);
  }

  // Sizes the snapshot's buffers once: growing them by doubling costs up to three times the
  // final size at the moment of the copy.
  size_t ExpectedSockets() const {
    const std::optional<std::string> sockstat = ReadWholeFile(options_.proc_root + "/net/sockstat");
    const std::optional<std::string> sockstat6 =
        ReadWholeFile(options_.proc_root + "/net/sockstat6");
    const size_t estimate =
        linux::EstimateSocketCount(sockstat.value_or(""), sockstat6.value_or(""));
    return std::max<size_t>(256, estimate + estimate / 16 + 64);
  }

  Result<void> CollectSockets(Snapshot& snapshot) {
    if (!diag_ && !options_.force_proc_fallback && !diag_unavailable_) {
      Result<std::unique_ptr<linux::SockDiag>> opened = linux::SockDiag::Open(netns_);
      if (opened) {
        diag_ = std::move(opened.value());
      } else {
        diag_unavailable_ = true;
        spdlog::warn("sock_diag unavailable ({}); reading /proc/net tables instead",
                     opened.error().message);
      }
    }
    struct Table {
      bool wanted;
      Protocol protocol;
      uint8_t family;
      const char* proc_file;
    };
    const Table tables[] = {
        {options_.tcp, Protocol::kTcp, AF_INET, "tcp"},
        {options_.tcp, Protocol::kTcp, AF_INET6, "tcp6"},
        {options_.udp, Protocol::kUdp, AF_INET, "udp"},
        {options_.udp, Protocol::kUdp, AF_INET6, "udp6"},
        {options_.raw, Protocol::kRaw, AF_INET, "raw"},
        {options_.raw, Protocol::kRaw, AF_INET6, "raw6"},
    };
    for (const Table& table : tables) {
      if (!table.wanted) continue;
      if (diag_) {
        Result<DumpOutcome> dumped =
            diag_->DumpInet(table.protocol, table.family, snapshot.sockets);
        if (!dumped) return dumped.error();
        if (*dumped == DumpOutcome::kComplete) continue;
        NoteFallbackOnce(table.proc_file);
      }
      Result<void> read = ReadProcTable(table.proc_file, table.protocol, table.family, snapshot);
      if (!read) return read.error();
    }
    if (options_.packet) {
      if (!diag_) {
        snapshot.warnings.push_back(
            "packet sockets are not listed: they need sock_diag (PACKET_DIAG)");
      } else {
        Result<DumpOutcome> dumped = diag_->DumpPacket(snapshot.sockets);
        if (!dumped) return dumped.error();
        if (*dumped == DumpOutcome::kUnsupported) {
          snapshot.warnings.push_back(
              "packet sockets are not listed: the kernel has no PACKET_DIAG (af_packet_diag)");
        }
      }
    }
    return Ok();
  }

  void NoteFallbackOnce(const char* proc_file) {
    const std::string file = proc_file;
    if (std::find(fallbacks_logged_.begin(), fallbacks_logged_.end(), file) !=
        fallbacks_logged_.end()) {
      return;
    }
    fallbacks_logged_.push_back(file);
    spdlog::info(
        "sock_diag has no handler for {} sockets (kernel module missing); reading {}/net/{}", file,
        options_.proc_root, file);
  }

  Result<void> ReadProcTable(const char* name, Protocol protocol, uint8_t family,
                             Snapshot& snapshot) {
    const std::string path = options_.proc_root + "/net/" + name;
    std::optional<std::string> text = ReadWholeFile(path);
    if (!text) {
      const int error = errno;
      // With IPv6 disabled the *6 tables do not exist: nothing to report, not a failure.
      if (error == ENOENT && family == AF_INET6) return Ok();
      return Error{"cannot read " + path + ": " + std::strerror(error)};
    }
    Result<void> parsed =
        linux::ParseProcNetTable(*text, protocol, family == AF_INET ? Family::kIpv4 : Family::kIpv6,
                                 netns_, snapshot.sockets);
    if (!parsed) return Error{path + ": " + parsed.error().message};
    return Ok();
  }

  void JoinOwners(const linux::OwnerScan& scan, Snapshot& snapshot) {
    std::unordered_map<int32_t, uint32_t> process_index;  // pid -> index in snapshot.processes
    std::unordered_map<int32_t, bool> gone;
    const bool some_unreadable = !scan.unreadable_pids.empty();
    for (Socket& socket : snapshot.sockets) {
      socket.owners_begin = static_cast<uint32_t>(snapshot.owner_indices.size());
      if (socket.inode == 0) {
        socket.owner_status = OwnerStatus::kKernel;
        continue;
      }
      scan.owners.ForEachOwner(socket.inode, [&](int32_t pid) {
        auto found = process_index.find(pid);
        if (found == process_index.end()) {
          if (gone.contains(pid)) return;
          std::optional<Process> process = processes_.Read(pid);
          if (!process) {
            gone.emplace(pid, true);
            return;
          }
          found =
              process_index.emplace(pid, static_cast<uint32_t>(snapshot.processes.size())).first;
          snapshot.processes.push_back(std::move(*process));
        }
        snapshot.owner_indices.push_back(found->second);
      });
      socket.owner_count =
          static_cast<uint32_t>(snapshot.owner_indices.size()) - socket.owners_begin;
      if (socket.owner_count == 0) {
        socket.owner_status =
            some_unreadable ? OwnerStatus::kNoPermission : OwnerStatus::kProcessGone;
        continue;
      }
      socket.owner_status = OwnerStatus::kKnown;
      if (socket.owner_count > 1) {
        // Primary owner: not pid 1 (systemd socket activation) when another holds it, then the
        // lowest pid (the parent of forked workers, as a rule).
        auto begin = snapshot.owner_indices.begin() + socket.owners_begin;
        std::sort(begin, begin + socket.owner_count, [&](uint32_t a, uint32_t b) {
          const int32_t pa = snapshot.processes[a].pid;
          const int32_t pb = snapshot.processes[b].pid;
          return std::pair(pa == 1, pa) < std::pair(pb == 1, pb);
        });
      }
    }
    if (some_unreadable) {
      snapshot.warnings.push_back(
          std::to_string(scan.unreadable_pids.size()) +
          " processes' descriptors could not be read; run as root or with CAP_DAC_READ_SEARCH and "
          "CAP_SYS_PTRACE to see every owner");
    }
  }

  CollectorOptions options_;
  linux::ProcessReader processes_;
  std::unique_ptr<linux::SockDiag> diag_;
  bool diag_unavailable_ = false;
  std::optional<OwnerCache> cache_;
  uint64_t netns_ = 0;
  std::vector<std::string> fallbacks_logged_;
};

}  // namespace

std::unique_ptr<Collector> MakeCollector(const CollectorOptions& options) {
  return std::make_unique<LinuxCollector>(options);
}

std::string ProcessName(int32_t pid) {
  if (pid <= 0) return {};
  std::string name = ReadWholeFile(fmt::format("/proc/{}/comm", pid)).value_or("");
  if (!name.empty() && name.back() == '\n') name.pop_back();
  return name;
}

}  // namespace portwatch::collectors
