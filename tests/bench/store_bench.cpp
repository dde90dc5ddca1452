// store_bench: measures the history store against the targets — database growth, bytes
// per socket lifetime, write time per interval and point-in-time queries over a week — on
// synthetic history written by the real HistoryWriter, and times the real collector on this host
// (with conn_farm holding ~10k sockets) so the write cost can be read as a share of a snapshot.
//
// Usage: store_bench [--dir DIR] [--farm PATH] [--conns N] [--queries N] [--hours H]
//                    [--keyframe-minutes M] [--seed S] [--out FILE] [--keep]
//
// Prints a markdown report on stdout (progress goes to stderr) and writes it to --out if given.
// What is simulated, and why it stands for the scenarios, is in tests/bench/README.md
// ("Store benchmark"). Run it as root on a quiet host: the collector needs root to see every
// process's fds, and every timing shares the machine with whatever else runs. Exit status: 0 when
// the run completed (whatever the verdicts), 1 on failure, 2 on bad usage.
#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sqlite3.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collectors/collector.h"
#include "collectors/derive.h"
#include "collectors/snapshot.h"
#include "store/database.h"
#include "store/history_writer.h"
#include "store/queries.h"
#include "store/retention.h"
#include "tests/bench/bench_support.h"

namespace {

using namespace portwatch;
using namespace portwatch::bench;
using collectors::Address;
using collectors::Endpoint;
using collectors::Family;
using collectors::OwnerStatus;
using collectors::Process;
using collectors::Protocol;
using collectors::Snapshot;
using collectors::Socket;
using collectors::SocketState;
using store::Database;
using store::HistoryWriter;

constexpr int64_t kSecond = 1000;
constexpr int64_t kMinute = 60 * kSecond;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;
// Simulated time starts at 2025-01-06 00:00 UTC, so every run with one seed writes the same bytes.
constexpr int64_t kEpochMs = 1736121600000;
constexpr int64_t kNever = INT64_MAX;
// The host's network namespace inode (a typical value); sockets in it are stored as NULL.
constexpr uint64_t kHostNetns = 4026531992;

// The targets. MB is 10^6 bytes, the stricter reading.
constexpr double kGrowthTargetBytes = 1e6;
constexpr double kLifetimeTargetBytes = 150;
constexpr double kWriteTargetMs = 5;
constexpr double kQueryTargetMs = 100;

constexpr int kSteadySockets = 10000;
constexpr int kChurnPerSecond = 200;  // socket lifetimes per second in the churn profile
constexpr double kChurnFraction = 0.01;

// ---- small utilities ------------------------------------------------------------------------

std::string FormatBytes(double bytes) {
  if (std::abs(bytes) >= 1e6) return fmt::format("{:.2f} MB", bytes / 1e6);
  if (std::abs(bytes) >= 1e3) return fmt::format("{:.1f} kB", bytes / 1e3);
  return fmt::format("{:.0f} B", bytes);
}

// Bytes this process has handed to write(2) and friends so far (/proc/self/io wchar).
int64_t WrittenBytes() {
  std::ifstream io("/proc/self/io");
  std::string key;
  int64_t value = 0;
  while (io >> key >> value) {
    if (key == "wchar:") return value;
  }
  return 0;
}

// The fraction of a file's pages in the kernel's page cache (mincore), or -1 when unknown.
double ResidentFraction(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat info {};
  if (fd.get() < 0 || fstat(fd.get(), &info) != 0) return -1;
  if (info.st_size == 0) return 0;
  const auto size = static_cast<size_t>(info.st_size);
  void* mapped = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd.get(), 0);
  if (mapped == MAP_FAILED) return -1;
  const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> resident((size + page - 1) / page);
  double fraction = -1;
  if (mincore(mapped, size, resident.data()) == 0) {
    const auto in_cache = std::count_if(resident.begin(), resident.end(),
                                        [](unsigned char flags) { return (flags & 1) != 0; });
    fraction = static_cast<double>(in_cache) / static_cast<double>(resident.size());
  }
  munmap(mapped, size);
  return fraction;
}

// Drops a database's pages from the page cache, so the next query reads them from the disk.
// Dirty pages cannot be dropped, hence the fdatasync first; pages still on a CPU's LRU batch are
// skipped by one pass, hence the retries. Returns the fraction still resident.
double EvictFromPageCache(const std::string& path) {
  double resident = 1;
  for (int pass = 0; pass < 3 && resident > 0.01; ++pass) {
    for (const std::string& file : {path, path + "-wal"}) {
      UniqueFd fd(open(file.c_str(), O_RDONLY | O_CLOEXEC));
      if (fd.get() < 0) continue;
      fdatasync(fd.get());
      posix_fadvise(fd.get(), 0, 0, POSIX_FADV_DONTNEED);
    }
    resident = ResidentFraction(path);
  }
  return resident;
}

// ---- the synthetic host ---------------------------------------------------------------------

// The processes of a typical web server: nginx in front of a Java API, Postgres and Redis behind
// it, Node services, an Envoy sidecar and the usual daemons.
struct ProcessSpec {
  const char* name;
  const char* exe;
  const char* cmdline;
  const char* user;
  uint32_t uid;
  int instances;
};
enum Role {
  kSshd,
  kSshSession,
  kNginxMaster,
  kNginxWorker,
  kPostmaster,
  kPostgresBackend,
  kRedis,
  kJava,
  kNode,
  kEnvoy,
  kResolved,
  kChronyd,
  kNodeExporter,
  kPrometheus,
  kDockerd,
  kFluentBit,
  kRoleCount,
};
constexpr ProcessSpec kProcessSpecs[kRoleCount] = {
    {"sshd", "/usr/sbin/sshd", "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups", "root", 0,
     1},
    {"sshd", "/usr/sbin/sshd", "sshd: deploy@pts/0", "deploy", 1000, 3},
    {"nginx", "/usr/sbin/nginx",
     "nginx: master process /usr/sbin/nginx -g daemon on; master_process on;", "root", 0, 1},
    {"nginx", "/usr/sbin/nginx", "nginx: worker process", "www-data", 33, 8},
    {"postgres", "/usr/lib/postgresql/15/bin/postgres",
     "/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main -c "
     "config_file=/etc/postgresql/15/main/postgresql.conf",
     "postgres", 106, 1},
    {"postgres", "/usr/lib/postgresql/15/bin/postgres",
     "postgres: 15/main: shop shopdb 10.0.2.11(51234) idle", "postgres", 106, 10},
    {"redis-server", "/usr/bin/redis-server", "/usr/bin/redis-server 127.0.0.1:6379", "redis", 107,
     1},
    {"java", "/usr/lib/jvm/java-17-openjdk-amd64/bin/java",
     "/usr/lib/jvm/java-17-openjdk-amd64/bin/java -Xms2g -Xmx4g -XX:+UseG1GC "
     "-Dspring.profiles.active=prod -jar /opt/shop/shop-api.jar",
     "shop", 1001, 2},
    {"node", "/usr/bin/node", "node /srv/web/server.js", "web", 1002, 4},
    {"envoy", "/usr/local/bin/envoy",
     "/usr/local/bin/envoy -c /etc/envoy/envoy.yaml --concurrency 2", "envoy", 998, 1},
    {"systemd-resolve", "/lib/systemd/systemd-resolved", "/lib/systemd/systemd-resolved",
     "systemd-resolve", 101, 1},
    {"chronyd", "/usr/sbin/chronyd", "/usr/sbin/chronyd -F 1", "_chrony", 105, 1},
    {"prometheus-node", "/usr/bin/prometheus-node-exporter", "/usr/bin/prometheus-node-exporter",
     "prometheus", 109, 1},
    {"prometheus", "/usr/bin/prometheus",
     "/usr/bin/prometheus --config.file=/etc/prometheus/prometheus.yml "
     "--storage.tsdb.path=/var/lib/prometheus/metrics2/",
     "prometheus", 109, 1},
    {"dockerd", "/usr/bin/dockerd",
     "/usr/bin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock", "root", 0, 1},
    {"fluent-bit", "/opt/fluent-bit/bin/fluent-bit",
     "/opt/fluent-bit/bin/fluent-bit -c /etc/fluent-bit/fluent-bit.conf", "root", 0, 1},
};

// A connection as the socket table shows it: one socket, or both ends when it is local.
struct Connection {
  std::array<Socket, 2> ends;
  uint8_t count = 1;
  bool active_closer = false;  // this host closes it, so ends[0] lingers in TIME_WAIT
  bool time_wait = false;
  int64_t closes_at = kNever;
};

// A host that never existed: ~40 processes, their 22 listeners, and connections of the kinds a
// web server holds (HTTPS clients, loopback hops to the API, database and Redis pools, calls to
// outside APIs, SSH sessions, DNS), with kernel-like cookies and inodes. Take returns the Snapshot
// a collector would have produced, DeriveFields applied. Not thread-safe.
class SyntheticHost {
 public:
  SyntheticHost(uint64_t seed, int64_t time_wait_ms) : random_(seed), time_wait_ms_(time_wait_ms) {
    AddProcesses();
    AddAddressPools();
    AddListeners();
  }

  size_t sockets() const { return sockets_; }

  // Opens connections until at least `count` sockets were added; returns how many were. Each lives
  // for lifetime() milliseconds from `now` (kNever: until CloseRandom picks it).
  template <typename Lifetime>
  int Open(int count, int64_t now, Lifetime lifetime) {
    int added = 0;
    while (added < count) {
      Connection connection = MakeConnection();
      const int64_t life = lifetime();
      connection.closes_at = life == kNever ? kNever : now + life;
      added += connection.count;
      sockets_ += connection.count;
      connections_.push_back(connection);
    }
    return added;
  }

  // Closes random connections until at least `count` sockets are gone; returns how many went.
  int CloseRandom(int count) {
    int removed = 0;
    while (removed < count && !connections_.empty()) {
      removed += RemoveAt(Uniform(connections_.size()));
    }
    return removed;
  }

  // Ends every connection due by `now`: an actively closed one stays in TIME_WAIT for a while
  // (when the host simulates TIME_WAIT), the rest disappear. Returns the sockets that went.
  int CloseDue(int64_t now) {
    int removed = 0;
    for (size_t i = 0; i < connections_.size();) {
      Connection& connection = connections_[i];
      if (connection.closes_at > now) {
        ++i;
        continue;
      }
      if (time_wait_ms_ > 0 && connection.active_closer && !connection.time_wait) {
        // The kernel keeps only our end, without an owner; the peer's end (if local) is gone.
        Socket& end = connection.ends[0];
        end.state = SocketState::kTimeWait;
        end.inode = 0;
        end.uid = 0;
        end.owner_count = 0;
        end.owner_status = OwnerStatus::kKernel;
        removed += connection.count - 1;
        sockets_ -= connection.count - 1;
        connection.count = 1;
        connection.time_wait = true;
        connection.closes_at = now + time_wait_ms_;
        ++i;
        continue;
      }
      removed += RemoveAt(i);
    }
    return removed;
  }

  Snapshot Take(int64_t now) const {
    Snapshot snapshot;
    snapshot.taken_at =
        std::chrono::system_clock::time_point(std::chrono::milliseconds(kEpochMs + now));
    snapshot.netns = kHostNetns;
    snapshot.processes = processes_;
    snapshot.owner_indices = owner_indices_;
    snapshot.sockets.reserve(sockets_);
    snapshot.sockets.assign(listeners_.begin(), listeners_.end());
    for (const Connection& connection : connections_) {
      for (int end = 0; end < connection.count; ++end) {
        snapshot.sockets.push_back(connection.ends[static_cast<size_t>(end)]);
      }
    }
    collectors::DeriveFields(snapshot);
    return snapshot;
  }

  size_t process_count() const { return processes_.size(); }
  size_t listener_count() const { return listeners_.size(); }

  // 1 + an exponential number of whole seconds with the given mean: every connection is seen by
  // at least one snapshot at a 1 s interval.
  int64_t ShortLifetime(double mean_seconds) {
    std::exponential_distribution<double> extra(1.0 / (mean_seconds - 1.0));
    return kSecond * (1 + static_cast<int64_t>(extra(random_)));
  }

 private:
  size_t Uniform(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(random_); }
  uint16_t EphemeralPort() {
    return static_cast<uint16_t>(std::uniform_int_distribution<int>(32768, 60999)(random_));
  }
  uint16_t ClientPort() {
    return static_cast<uint16_t>(std::uniform_int_distribution<int>(1024, 65535)(random_));
  }
  // An instance of a role, as an index into processes_.
  uint32_t Instance(Role role) {
    return first_[role] +
           static_cast<uint32_t>(Uniform(static_cast<size_t>(kProcessSpecs[role].instances)));
  }

  int RemoveAt(size_t index) {
    const int count = connections_[index].count;
    sockets_ -= static_cast<size_t>(count);
    connections_[index] = connections_.back();
    connections_.pop_back();
    return count;
  }

  void AddProcesses() {
    std::uniform_int_distribution<int> pid_step(1, 400);
    int32_t pid = 611;
    for (int role = 0; role < kRoleCount; ++role) {
      const ProcessSpec& spec = kProcessSpecs[role];
      first_[role] = static_cast<uint32_t>(processes_.size());
      for (int instance = 0; instance < spec.instances; ++instance) {
        Process process;
        pid += pid_step(random_);
        process.pid = pid;
        process.ppid = role == kNginxWorker       ? processes_[first_[kNginxMaster]].pid
                       : role == kPostgresBackend ? processes_[first_[kPostmaster]].pid
                       : role == kSshSession      ? processes_[first_[kSshd]].pid
                                                  : 1;
        process.start_time = static_cast<uint64_t>(pid) * 37 + 1500;
        process.uid = spec.uid;
        process.name = spec.name;
        process.exe = spec.exe;
        process.cmdline = spec.cmdline;
        process.user = spec.user;
        processes_.push_back(std::move(process));
      }
    }
    for (uint32_t i = 0; i < processes_.size(); ++i) owner_indices_.push_back(i);
    // nginx's listeners are shared by the master and every worker.
    nginx_owners_ = static_cast<uint32_t>(owner_indices_.size());
    owner_indices_.push_back(first_[kNginxMaster]);
    for (int worker = 0; worker < kProcessSpecs[kNginxWorker].instances; ++worker) {
      owner_indices_.push_back(first_[kNginxWorker] + static_cast<uint32_t>(worker));
    }
  }

  Address PublicV4() {
    // First octets outside 0, 10, 100, 127, 169, 172, 192 and multicast.
    static constexpr uint8_t kFirst[] = {3,  8,  13, 18, 23, 31, 34, 37,  45,  52,  62,  77,  80,
                                         81, 85, 88, 91, 93, 95, 98, 104, 151, 176, 185, 195, 212};
    std::uniform_int_distribution<int> octet(1, 254);
    return Address::V4(kFirst[Uniform(std::size(kFirst))], static_cast<uint8_t>(octet(random_)),
                       static_cast<uint8_t>(octet(random_)), static_cast<uint8_t>(octet(random_)));
  }
  Address PublicV6() {
    uint8_t bytes[16] = {0x2a, 0x02};
    for (int i = 2; i < 16; ++i) bytes[i] = static_cast<uint8_t>(random_());
    return Address::V6(bytes);
  }

  void AddAddressPools() {
    for (int i = 0; i < 20000; ++i) client_v4_.push_back(PublicV4());
    for (int i = 0; i < 5000; ++i) client_v6_.push_back(PublicV6());
    for (int i = 0; i < 300; ++i) api_v4_.push_back(PublicV4());
    for (int i = 0; i < 60; ++i) api_v6_.push_back(PublicV6());
  }

  Socket NewSocket(Protocol protocol, SocketState state, Endpoint local, Endpoint remote,
                   uint32_t owners_begin, uint32_t owner_count, uint32_t uid) {
    Socket socket;
    socket.protocol = protocol;
    socket.family = local.address.family;
    socket.state = state;
    socket.uid = uid;
    socket.local = local;
    socket.remote = remote;
    // The kernel hands out cookies and inodes from global counters that other sockets (and, for
    // inodes, other files) also advance.
    next_cookie_ += 1 + Uniform(4);
    next_inode_ += 1 + Uniform(3);
    socket.cookie = next_cookie_;
    socket.inode = next_inode_;
    socket.netns = kHostNetns;
    socket.owners_begin = owners_begin;
    socket.owner_count = owner_count;
    socket.owner_status = OwnerStatus::kKnown;
    return socket;
  }
  Socket Owned(Protocol protocol, SocketState state, Endpoint local, Endpoint remote,
               uint32_t process) {
    return NewSocket(protocol, state, local, remote, process, 1, processes_[process].uid);
  }

  void AddListeners() {
    const Address any4 = Address::V4(0, 0, 0, 0);
    const Address any6 = *Address::Parse("::");
    const Address local4 = *Address::Parse("127.0.0.1");
    const Address host4 = *Address::Parse("10.0.0.5");
    const Address resolver = *Address::Parse("127.0.0.53");
    const auto add = [&](Protocol protocol, Address address, uint16_t port, Role role,
                         int instance = 0) {
      const SocketState state =
          protocol == Protocol::kTcp ? SocketState::kListen : SocketState::kClose;
      Socket socket = Owned(protocol, state, {address, port},
                            {address.family == Family::kIpv4 ? any4 : any6, 0},
                            first_[role] + static_cast<uint32_t>(instance));
      socket.v6only = address.family == Family::kIpv6 && role == kNginxMaster;
      if (role == kNginxMaster) {
        socket.owners_begin = nginx_owners_;
        socket.owner_count = 1 + static_cast<uint32_t>(kProcessSpecs[kNginxWorker].instances);
      }
      listeners_.push_back(socket);
    };
    add(Protocol::kTcp, any4, 22, kSshd);
    add(Protocol::kTcp, any6, 22, kSshd);
    for (const uint16_t port : {uint16_t{80}, uint16_t{443}}) {
      add(Protocol::kTcp, any4, port, kNginxMaster);
      add(Protocol::kTcp, any6, port, kNginxMaster);
    }
    add(Protocol::kTcp, host4, 5432, kPostmaster);
    add(Protocol::kTcp, local4, 5432, kPostmaster);
    add(Protocol::kTcp, local4, 6379, kRedis);
    add(Protocol::kTcp, local4, 8080, kJava, 0);
    add(Protocol::kTcp, local4, 8081, kJava, 1);
    for (int node = 0; node < 4; ++node) {
      add(Protocol::kTcp, local4, static_cast<uint16_t>(3000 + node), kNode, node);
    }
    add(Protocol::kTcp, local4, 9901, kEnvoy);
    add(Protocol::kTcp, resolver, 53, kResolved);
    add(Protocol::kUdp, resolver, 53, kResolved);
    add(Protocol::kUdp, local4, 323, kChronyd);
    add(Protocol::kUdp, *Address::Parse("::1"), 323, kChronyd);
    add(Protocol::kTcp, any6, 9100, kNodeExporter);
    add(Protocol::kTcp, any6, 9090, kPrometheus);
    sockets_ = listeners_.size();
  }

  // One connection of a kind drawn by the weights below.
  Connection MakeConnection() {
    static const Address host4 = *Address::Parse("10.0.0.5");
    static const Address host6 = *Address::Parse("2001:db8:10::5");
    static const Address local4 = *Address::Parse("127.0.0.1");
    Connection connection;
    const auto kind = Uniform(100);
    const auto established = SocketState::kEstablished;
    if (kind < 45) {
      // An HTTPS (or plain HTTP) client of nginx, a quarter of them over IPv6.
      const bool v6 = Uniform(4) == 0;
      const uint16_t port = Uniform(10) == 0 ? 80 : 443;
      const Address peer =
          v6 ? client_v6_[Uniform(client_v6_.size())] : client_v4_[Uniform(client_v4_.size())];
      connection.ends[0] = Owned(Protocol::kTcp, established, {v6 ? host6 : host4, port},
                                 {peer, ClientPort()}, Instance(kNginxWorker));
    } else if (kind < 65) {
      // nginx proxying to the Java API on loopback: both ends are in the table.
      const uint16_t api = Uniform(2) == 0 ? 8080 : 8081;
      const uint16_t port = EphemeralPort();
      connection.ends[0] =
          Owned(Protocol::kTcp, established, {local4, port}, {local4, api}, Instance(kNginxWorker));
      connection.ends[1] = Owned(Protocol::kTcp, established, {local4, api}, {local4, port},
                                 first_[kJava] + (api == 8080 ? 0u : 1u));
      connection.count = 2;
      connection.active_closer = true;
    } else if (kind < 80) {
      // The API's pools to Postgres and Redis on other machines.
      const bool postgres = Uniform(3) != 0;
      const Address server = *Address::Parse(postgres ? "10.0.1.20" : "10.0.1.30");
      connection.ends[0] =
          Owned(Protocol::kTcp, established, {host4, EphemeralPort()},
                {server, static_cast<uint16_t>(postgres ? 5432 : 6379)}, Instance(kJava));
      connection.active_closer = true;
    } else if (kind < 92) {
      // Calls to outside APIs from the Node services and Envoy, a fifth over IPv6.
      const bool v6 = Uniform(5) == 0;
      const Address peer = v6 ? api_v6_[Uniform(api_v6_.size())] : api_v4_[Uniform(api_v4_.size())];
      connection.ends[0] = Owned(Protocol::kTcp, established, {v6 ? host6 : host4, EphemeralPort()},
                                 {peer, 443}, Uniform(3) == 0 ? first_[kEnvoy] : Instance(kNode));
      connection.active_closer = true;
    } else if (kind < 98) {
      // Application servers connecting to the local Postgres.
      const Address peer = Address::V4(10, 0, 2, static_cast<uint8_t>(10 + Uniform(30)));
      connection.ends[0] = Owned(Protocol::kTcp, established, {host4, 5432},
                                 {peer, EphemeralPort()}, Instance(kPostgresBackend));
    } else if (kind < 99) {
      const Address peer = Address::V4(10, 8, 0, static_cast<uint8_t>(2 + Uniform(8)));
      connection.ends[0] = Owned(Protocol::kTcp, established, {host4, 22}, {peer, EphemeralPort()},
                                 Instance(kSshSession));
    } else {
      // A connected UDP socket asking the local resolver.
      static const Address resolver = *Address::Parse("127.0.0.53");
      connection.ends[0] = Owned(Protocol::kUdp, established, {local4, EphemeralPort()},
                                 {resolver, 53}, first_[kFluentBit]);
      connection.active_closer = false;
    }
    return connection;
  }

  std::mt19937_64 random_;
  int64_t time_wait_ms_;
  std::vector<Process> processes_;
  std::vector<uint32_t> owner_indices_;
  std::array<uint32_t, kRoleCount> first_{};
  uint32_t nginx_owners_ = 0;
  std::vector<Address> client_v4_, client_v6_, api_v4_, api_v6_;
  std::vector<Socket> listeners_;
  std::vector<Connection> connections_;
  size_t sockets_ = 0;
  uint64_t next_cookie_ = 41'000'000;
  uint64_t next_inode_ = 91'000'000;
};

// ---- writing history ------------------------------------------------------------------------

// Sizes of the database's tables and indexes (dbstat), to say where the bytes went.
struct ObjectSize {
  int64_t bytes = 0;    // pages
  int64_t payload = 0;  // record bytes in them
};
std::map<std::string, ObjectSize> ObjectSizes(Database& db) {
  std::map<std::string, ObjectSize> sizes;
  Result<store::Statement> query =
      db.Prepare("SELECT name, pgsize, payload FROM dbstat WHERE aggregate = TRUE");
  if (!query) return sizes;  // SQLite built without SQLITE_ENABLE_DBSTAT_VTAB
  while (Check(query->Step(), "read dbstat")) {
    sizes[query->Text(0)] = {query->Int(1), query->Int(2)};
  }
  return sizes;
}

void Checkpoint(Database& db) {
  Check(db.Execute("PRAGMA wal_checkpoint(TRUNCATE)"), "checkpoint " + db.path());
}

// What a recording held after each write, to check and explain the queries over it.
struct Timeline {
  std::vector<int64_t> moments;  // simulated ms since the start
  std::vector<size_t> counts;    // sockets in the snapshot
  std::vector<int64_t> opened;   // socket rows written so far
  // The index of the last write at or before `moment`.
  size_t At(int64_t moment) const {
    return static_cast<size_t>(std::upper_bound(moments.begin(), moments.end(), moment) -
                               moments.begin() - 1);
  }
};

// What one interval's write cost. Where the writer leaves SQLite's automatic checkpoint on, it
// runs inside the commit of the write that takes the WAL past wal_autocheckpoint pages, so that
// write pays for it; where the writer turns it off, its caller checkpoints between intervals.
struct WriteRecord {
  double ms = 0;             // the whole HistoryWriter::Write
  double checkpoint_ms = 0;  // of which SQLite's automatic checkpoint
  double after_ms = 0;       // the checkpoint run after the write, between intervals
  int64_t wal_pages = 0;     // pages the commit appended to the WAL
};

// One simulated recording: a fresh database, its writer, and what was written.
class Recording {
 public:
  Recording(const std::string& path, const store::WriterOptions& options) {
    std::filesystem::remove(path);
    std::filesystem::remove(path + "-wal");
    std::filesystem::remove(path + "-shm");
    db_ = std::make_unique<Database>(Check(Database::Open(path), "open " + path));
    writer_ = std::make_unique<HistoryWriter>(
        Check(HistoryWriter::Create(*db_, options), "create the history writer"));
    // SQLite's automatic checkpoint is a WAL hook that runs a PASSIVE checkpoint once the WAL
    // holds wal_autocheckpoint pages (sqlite3WalDefaultHook). This hook does exactly what the
    // connection was set up to do — that, or nothing when the writer turned it off — and also
    // notes the checkpoint's duration and the pages each commit added.
    autocheckpoint_ = QueryInt("PRAGMA wal_autocheckpoint");
    sqlite3_wal_hook(db_->handle(), &Recording::OnCommit, this);
  }
  Recording(const Recording&) = delete;
  Recording& operator=(const Recording&) = delete;

  // Writes the snapshot taken at `now` (ms since the simulated start).
  WriteRecord Write(const Snapshot& snapshot, int64_t now) {
    commit_ = {};
    const auto started = Clock::now();
    const store::WriteStats stats = Check(writer_->Write(snapshot), "write");
    commit_.ms = Millis(Clock::now() - started);
    if (autocheckpoint_ == 0) {
      // The writer leaves checkpoints to its caller, between intervals: do as the agent's loop
      // does after every write (Database::Checkpoint, a PASSIVE checkpoint).
      const auto begun = Clock::now();
      int log_pages = 0;
      int copied_pages = 0;
      const int code = sqlite3_wal_checkpoint_v2(db_->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                                 &log_pages, &copied_pages);
      if (code != SQLITE_OK && code != SQLITE_BUSY) Die("checkpoint: " + db_->ErrorMessage());
      commit_.after_ms = Millis(Clock::now() - begun);
      if (copied_pages == log_pages) wal_frames_ = 0;  // the next commit starts the WAL over
    }
    opened += static_cast<int64_t>(stats.opened);
    closed += static_cast<int64_t>(stats.closed);
    changed += static_cast<int64_t>(stats.changed);
    keyframes += stats.keyframe ? 1 : 0;
    opened_total_ += static_cast<int64_t>(stats.opened);
    timeline.moments.push_back(now);
    timeline.counts.push_back(snapshot.sockets.size());
    timeline.opened.push_back(opened_total_);
    return commit_;
  }

  // Checkpointed size in bytes, and where it sits.
  uint64_t Measure(std::map<std::string, ObjectSize>* objects = nullptr) {
    Checkpoint(*db_);
    wal_frames_ = 0;
    if (objects) *objects = ObjectSizes(*db_);
    return store::DatabaseBytes(*db_);
  }

  void ResetCounts() { opened = closed = changed = keyframes = 0; }
  // SQLite's automatic checkpoint threshold as the writer left it; 0: off.
  int64_t autocheckpoint() const { return autocheckpoint_; }
  // Checkpoints and closes, leaving only the main file: what a reader later finds.
  void Close() {
    Checkpoint(*db_);
    writer_.reset();
    db_.reset();
  }

  int64_t opened = 0;
  int64_t closed = 0;
  int64_t changed = 0;
  int64_t keyframes = 0;
  Timeline timeline;

 private:
  int64_t QueryInt(const char* sql) {
    store::Statement query = Check(db_->Prepare(sql), sql);
    return Check(query.Step(), sql) ? query.Int(0) : 0;
  }

  static int OnCommit(void* context, sqlite3* db, const char* schema, int frames) {
    auto* self = static_cast<Recording*>(context);
    self->commit_.wal_pages += frames - self->wal_frames_;
    self->wal_frames_ = frames;
    if (self->autocheckpoint_ > 0 && frames >= self->autocheckpoint_) {
      const auto started = Clock::now();
      int log_pages = 0;
      int copied_pages = 0;
      sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, &log_pages, &copied_pages);
      self->commit_.checkpoint_ms += Millis(Clock::now() - started);
      if (copied_pages == log_pages) self->wal_frames_ = 0;  // the next commit starts over
    }
    return SQLITE_OK;
  }

  std::unique_ptr<Database> db_;
  std::unique_ptr<HistoryWriter> writer_;
  int64_t autocheckpoint_ = 0;
  int64_t wal_frames_ = 0;
  int64_t opened_total_ = 0;
  WriteRecord commit_;
};

struct GrowthRow {
  std::string object;
  int64_t bytes = 0;
  int64_t payload = 0;
};
std::vector<GrowthRow> Growth(const std::map<std::string, ObjectSize>& before,
                              const std::map<std::string, ObjectSize>& after, int64_t file_growth) {
  std::vector<GrowthRow> rows;
  int64_t attributed = 0;
  for (const auto& [name, size] : after) {
    const auto was = before.find(name);
    const ObjectSize old = was == before.end() ? ObjectSize{} : was->second;
    rows.push_back({name, size.bytes - old.bytes, size.payload - old.payload});
    attributed += size.bytes - old.bytes;
  }
  std::sort(rows.begin(), rows.end(),
            [](const GrowthRow& a, const GrowthRow& b) { return a.bytes > b.bytes; });
  rows.erase(
      std::remove_if(rows.begin(), rows.end(),
                     [](const GrowthRow& row) { return row.bytes == 0 && row.payload == 0; }),
      rows.end());
  if (!after.empty()) rows.push_back({"(free list, pointer map)", file_growth - attributed, 0});
  return rows;
}

std::string GrowthTable(const std::vector<GrowthRow>& rows, double divisor, std::string_view unit) {
  if (rows.size() <= 1) return "(dbstat is not available in this SQLite build)\n";
  std::string table = fmt::format(
      "| table or index | pages ({0}) | record payload ({0}) |\n|---|---:|---:|\n", unit);
  for (const GrowthRow& row : rows) {
    table += fmt::format(
        "| `{}` | {:.1f} | {} |\n", row.object, static_cast<double>(row.bytes) / divisor,
        row.payload == 0 ? std::string()
                         : fmt::format("{:.1f}", static_cast<double>(row.payload) / divisor));
  }
  return table;
}

std::string TimingCells(const TimingSummary& t) {
  return fmt::format("{:.2f} | {:.2f} | {:.2f} | {:.2f} | {}", t.median, t.p90, t.p99, t.max,
                     t.count);
}

struct WriteSummary {
  TimingSummary all;
  TimingSummary without_checkpoint;  // each write less its automatic checkpoint
  TimingSummary checkpoints;         // the automatic checkpoints alone
  TimingSummary after;               // checkpoints run after the writes, between intervals
  double wal_pages = 0;              // median per write
};
WriteSummary SummarizeWrites(const std::vector<WriteRecord>& writes) {
  std::vector<double> all, without, checkpoints, after, pages;
  for (const WriteRecord& write : writes) {
    all.push_back(write.ms);
    without.push_back(write.ms - write.checkpoint_ms);
    if (write.checkpoint_ms > 0) checkpoints.push_back(write.checkpoint_ms);
    if (write.after_ms > 0) after.push_back(write.after_ms);
    pages.push_back(static_cast<double>(write.wal_pages));
  }
  return {Summarize(all), Summarize(without), Summarize(checkpoints), Summarize(after),
          Percentile(pages, 50)};
}
constexpr std::string_view kWriteHeader =
    "| write time (ms) | median | p90 | p99 | max | intervals | with a checkpoint inside | less "
    "it: median / p99 | checkpoint inside: median / max | checkpoint after the write: median / "
    "p99 / max | WAL pages per write (median) |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
std::string WriteRow(std::string_view label, const WriteSummary& writes) {
  const std::string after = writes.after.count == 0
                                ? "—"
                                : fmt::format("{:.1f} / {:.1f} / {:.1f}", writes.after.median,
                                              writes.after.p99, writes.after.max);
  const std::string inside =
      writes.checkpoints.count == 0
          ? "—"
          : fmt::format("{:.1f} / {:.1f}", writes.checkpoints.median, writes.checkpoints.max);
  return fmt::format("| {} | {} | {} | {:.2f} / {:.2f} | {} | {} | {:.0f} |\n", label,
                     TimingCells(writes.all), writes.checkpoints.count,
                     writes.without_checkpoint.median, writes.without_checkpoint.p99, inside, after,
                     writes.wal_pages);
}

// Phase 1: 10k sockets that never change, one hour at 1 s.
struct SteadyResult {
  double first_write_ms = 0;
  uint64_t after_first = 0;
  uint64_t after_hour = 0;
  int64_t keyframes = 0;
  int64_t written_bytes = 0;
  WriteSummary writes;
  std::vector<GrowthRow> growth;
  size_t sockets = 0;
};
SteadyResult RunSteady(const std::string& path, uint64_t seed,
                       const store::WriterOptions& options) {
  Say("steady: 10k sockets, 3601 intervals at 1 s");
  SteadyResult result;
  SyntheticHost host(seed, 0);
  host.Open(kSteadySockets - static_cast<int>(host.sockets()), 0, [] { return kNever; });
  Recording recording(path, options);
  result.first_write_ms = recording.Write(host.Take(0), 0).ms;
  std::map<std::string, ObjectSize> before, after;
  result.after_first = recording.Measure(&before);
  recording.ResetCounts();
  const int64_t written = WrittenBytes();
  std::vector<WriteRecord> writes;
  for (int64_t second = 1; second <= 3600; ++second) {
    writes.push_back(recording.Write(host.Take(second * kSecond), second * kSecond));
  }
  result.after_hour = recording.Measure(&after);
  result.written_bytes = WrittenBytes() - written;
  result.keyframes = recording.keyframes;
  result.writes = SummarizeWrites(writes);
  result.growth =
      Growth(before, after, static_cast<int64_t>(result.after_hour - result.after_first));
  result.sockets = host.sockets();
  recording.Close();
  return result;
}

// Phase 2: 10k steady sockets plus 200 short lifetimes a second, measured after a two-minute
// warm-up that brings the churning population to its steady size.
struct ChurnResult {
  int64_t time_wait_ms = 0;
  uint64_t before = 0;
  uint64_t after = 0;
  int64_t lifetimes = 0;  // rows written while measured
  int64_t closed = 0;
  int64_t changed = 0;
  int64_t written_bytes = 0;
  size_t sockets_min = SIZE_MAX, sockets_max = 0;
  WriteSummary writes;
  std::vector<GrowthRow> growth;
  Timeline timeline;
  double BytesPerLifetime() const {
    return lifetimes == 0 ? 0
                          : static_cast<double>(after - before) / static_cast<double>(lifetimes);
  }
};
ChurnResult RunChurn(const std::string& path, uint64_t seed, const store::WriterOptions& options,
                     int64_t time_wait_ms, int64_t measured_ms) {
  Say("churn: 10k steady + {}/s lifetimes{}, {} s measured", kChurnPerSecond,
      time_wait_ms > 0 ? " with TIME_WAIT" : "", measured_ms / kSecond);
  ChurnResult result;
  result.time_wait_ms = time_wait_ms;
  SyntheticHost host(seed, time_wait_ms);
  host.Open(kSteadySockets - static_cast<int>(host.sockets()), 0, [] { return kNever; });
  Recording recording(path, options);
  constexpr int64_t kWarmUp = 2 * kMinute;
  const auto lifetime = [&host] { return host.ShortLifetime(10.0); };
  std::map<std::string, ObjectSize> before, after;
  std::vector<WriteRecord> writes;
  int64_t written = 0;
  for (int64_t now = 0; now < kWarmUp + measured_ms; now += kSecond) {
    if (now == kWarmUp) {
      result.before = recording.Measure(&before);
      recording.ResetCounts();
      written = WrittenBytes();
    }
    host.CloseDue(now);
    host.Open(kChurnPerSecond, now, lifetime);
    const WriteRecord write = recording.Write(host.Take(now), now);
    if (now >= kWarmUp) {
      writes.push_back(write);
      result.sockets_min = std::min(result.sockets_min, host.sockets());
      result.sockets_max = std::max(result.sockets_max, host.sockets());
    }
  }
  result.after = recording.Measure(&after);
  result.written_bytes = WrittenBytes() - written;
  result.lifetimes = recording.opened;
  result.closed = recording.closed;
  result.changed = recording.changed;
  result.writes = SummarizeWrites(writes);
  result.growth = Growth(before, after, static_cast<int64_t>(result.after - result.before));
  result.timeline = recording.timeline;
  recording.Close();
  return result;
}

// Phases 3 and 5: 10k sockets of which 1% close and are replaced every interval.
struct OnePercentResult {
  int64_t interval_ms = 0;
  int64_t intervals = 0;
  double first_write_ms = 0;
  WriteSummary writes;
  int64_t lifetimes = 0;
  int64_t keyframes = 0;
  uint64_t bytes = 0;
  int64_t written_bytes = 0;
  int64_t autocheckpoint = 0;  // as the writer left it; 0: checkpoints after each write
  Timeline timeline;
};
OnePercentResult RunOnePercent(const std::string& path, uint64_t seed,
                               const store::WriterOptions& options, int64_t interval_ms,
                               int64_t duration_ms) {
  Say("1% churn: 10k sockets, {} intervals at {} s", duration_ms / interval_ms,
      interval_ms / kSecond);
  OnePercentResult result;
  result.interval_ms = interval_ms;
  SyntheticHost host(seed, 0);
  const auto never = [] { return kNever; };
  host.Open(kSteadySockets - static_cast<int>(host.sockets()), 0, never);
  Recording recording(path, options);
  result.first_write_ms = recording.Write(host.Take(0), 0).ms;
  const int churn = static_cast<int>(kSteadySockets * kChurnFraction);
  const int64_t written = WrittenBytes();
  std::vector<WriteRecord> writes;
  for (int64_t now = interval_ms; now < duration_ms; now += interval_ms) {
    const int closed = host.CloseRandom(churn);
    host.Open(closed, now, never);
    writes.push_back(recording.Write(host.Take(now), now));
  }
  result.written_bytes = WrittenBytes() - written;
  result.intervals = static_cast<int64_t>(writes.size()) + 1;
  result.writes = SummarizeWrites(writes);
  result.lifetimes = recording.opened + kSteadySockets;
  result.keyframes = recording.keyframes;
  result.autocheckpoint = recording.autocheckpoint();
  result.bytes = recording.Measure();
  result.timeline = recording.timeline;
  recording.Close();
  return result;
}

// ---- the real collector ---------------------------------------------------------------------

struct CollectorResult {
  std::string failure;  // empty when measured
  size_t sockets = 0;
  size_t processes = 0;
  TimingSummary collect;
  // The real snapshots written into a fresh database: the first (every socket is new) and the
  // following ones (nothing changes between them on an idle farm).
  double first_write_ms = 0;
  TimingSummary later_writes;
};
CollectorResult RunCollector(const std::string& farm_path, int connections,
                             const std::string& db_path, const store::WriterOptions& options,
                             int runs) {
  CollectorResult result;
  Say("collector: starting conn_farm {} ({} sockets)", connections, 2 * connections);
  Result<std::unique_ptr<ConnFarm>> started = ConnFarm::Start(farm_path, connections);
  if (!started) {
    result.failure = started.error().message;
    Say("collector not measured: {}", result.failure);
    return result;
  }
  std::unique_ptr<ConnFarm> farm = std::move(started).value();
  std::unique_ptr<collectors::Collector> collector = collectors::MakeCollector({});
  // The first pass fills the collector's process cache and the kernel's /proc caches, as the
  // agent's first interval does; the agent then runs for days.
  Snapshot snapshot = Check(collector->Collect(), "collect");
  Recording recording(db_path, options);
  std::vector<double> collect_ms, write_ms;
  for (int run = 0; run < runs; ++run) {
    const auto begun = Clock::now();
    snapshot = Check(collector->Collect(), "collect");
    collect_ms.push_back(Millis(Clock::now() - begun));
    const double ms = recording.Write(snapshot, 0).ms;
    if (run == 0) {
      result.first_write_ms = ms;
    } else {
      write_ms.push_back(ms);
    }
  }
  result.sockets = snapshot.sockets.size();
  result.processes = snapshot.processes.size();
  result.collect = Summarize(collect_ms);
  result.later_writes = Summarize(write_ms);
  recording.Close();
  farm.reset();
  Say("collector: {:.1f} ms median for {} sockets", result.collect.median, result.sockets);
  return result;
}

// ---- point-in-time queries ------------------------------------------------------------------

struct QueryResult {
  std::string name;
  std::string what;
  uint64_t db_bytes = 0;
  int64_t sockets_rows = 0;
  int64_t keyframes = 0;
  int sockets_depth = 0;  // levels of the sockets table's B-tree
  std::vector<double> warm_random, warm_worst, cold_random, cold_worst;
  std::vector<double> open_ms;
  std::vector<double> window_rows;  // rows opened between the keyframe and the moment
  double resident_after_evict = 0;  // worst seen
  int mismatches = 0;
  std::string mismatch_example;
};

int64_t QueryInt(Database& db, const std::string& sql, int64_t parameter = 0) {
  store::Statement query = Check(db.Prepare(sql), sql);
  query.Bind(1, parameter);
  return Check(query.Step(), sql) ? query.Int(0) : 0;
}

QueryResult RunQueries(const std::string& name, const std::string& what, const std::string& path,
                       const Timeline& timeline, int random_queries, int worst_queries,
                       uint64_t seed) {
  Say("queries: {} ({} random and {} worst-case moments, warm and cold)", name, random_queries,
      worst_queries);
  QueryResult result;
  result.name = name;
  result.what = what;
  std::vector<int64_t> keyframes;
  {
    Database db = Check(Database::Open(path, Database::Mode::kReadOnly), "open " + path);
    result.db_bytes = store::DatabaseBytes(db);
    result.sockets_rows = QueryInt(db, "SELECT count(*) FROM sockets");
    result.sockets_depth =
        static_cast<int>(QueryInt(db,
                                  "SELECT max(length(path) - length(replace(path, '/', ''))) FROM "
                                  "dbstat WHERE name = 'sockets'"));
    store::Statement select =
        Check(db.Prepare("SELECT at FROM keyframes ORDER BY at"), "keyframes");
    while (Check(select.Step(), "keyframes")) keyframes.push_back(select.Int(0) - kEpochMs);
  }
  result.keyframes = static_cast<int64_t>(keyframes.size());

  // Random moments over the whole recording, and the worst moments: just before a keyframe, when
  // the most sockets have opened since the previous one.
  std::mt19937_64 random(seed);
  std::vector<std::pair<int64_t, bool>> plan;  // (moment, worst case)
  std::uniform_int_distribution<int64_t> anywhere(timeline.moments.front(),
                                                  timeline.moments.back());
  for (int i = 0; i < random_queries; ++i) plan.emplace_back(anywhere(random), false);
  if (keyframes.size() > 1) {
    std::uniform_int_distribution<size_t> which(1, keyframes.size() - 1);
    for (int i = 0; i < worst_queries; ++i) plan.emplace_back(keyframes[which(random)] - 1, true);
  }

  for (const bool cold : {false, true}) {
    for (const auto& [moment, worst] : plan) {
      if (cold) {
        result.resident_after_evict =
            std::max(result.resident_after_evict, EvictFromPageCache(path));
      }
      const auto opening = Clock::now();
      Database db = Check(Database::Open(path, Database::Mode::kReadOnly), "open " + path);
      const auto querying = Clock::now();
      store::History history = Check(store::StateAt(db, kEpochMs + moment), "StateAt");
      const double ms = Millis(Clock::now() - querying);
      result.open_ms.push_back(Millis(querying - opening));
      (cold ? (worst ? result.cold_worst : result.cold_random)
            : (worst ? result.warm_worst : result.warm_random))
          .push_back(ms);
      // The answer must be the sockets of the last snapshot at or before the moment.
      const size_t expected = timeline.counts[timeline.At(moment)];
      if (history.snapshot.sockets.size() != expected) {
        if (result.mismatches++ == 0) {
          result.mismatch_example = fmt::format("at +{} ms: {} sockets, the snapshot held {}",
                                                moment, history.snapshot.sockets.size(), expected);
        }
      }
      if (!cold) {
        const int64_t keyframe =
            *(std::upper_bound(keyframes.begin(), keyframes.end(), moment) - 1);
        result.window_rows.push_back(static_cast<double>(timeline.opened[timeline.At(moment)] -
                                                         timeline.opened[timeline.At(keyframe)]));
      }
    }
  }
  return result;
}

// ---- the report -----------------------------------------------------------------------------

std::string FileSystemOf(const std::string& path) {
  struct statfs info {};
  if (statfs(path.c_str(), &info) != 0) return "unknown";
  switch (static_cast<uint64_t>(info.f_type)) {
    case 0xEF53:
      return "ext4";
    case 0x58465342:
      return "xfs";
    case 0x9123683E:
      return "btrfs";
    case 0x01021994:
      return "tmpfs (RAM: disk figures do not apply)";
    case 0x794C7630:
      return "overlayfs";
    default:
      return fmt::format("type {:#x}", static_cast<uint64_t>(info.f_type));
  }
}

struct Options {
  std::string dir;
  std::string farm;
  std::string out;
  int conns = 5000;
  int queries = 30;
  int worst = 10;
  int hours = 2;
  int keyframe_minutes = 0;  // 0: HistoryWriter's default
  uint64_t seed = 1;
  bool keep = false;
};

constexpr const char* kUsage =
    "usage: store_bench [--dir DIR] [--farm PATH] [--conns N] [--queries N] [--hours H]\n"
    "                   [--keyframe-minutes M] [--seed S] [--out FILE] [--keep]\n"
    "  --dir DIR     where the databases go (default: a new directory under $TMPDIR or /tmp);\n"
    "                needs ~1 GB on a real disk\n"
    "  --farm PATH   conn_farm binary (default: next to store_bench)\n"
    "  --conns N     connections conn_farm holds while the collector is timed (default 5000,\n"
    "                i.e. 10k sockets)\n"
    "  --queries N   random moments per history and cache state (default 30; plus 10 worst)\n"
    "  --hours H     length of the 1 s, 1% churn recording (default 2)\n"
    "  --keyframe-minutes M\n"
    "                keyframe interval of the writer (default: HistoryWriter's, 10 min); for\n"
    "                trying a different setting, not for the recorded results\n"
    "  --seed S      seed of the synthetic host and the query moments (default 1)\n"
    "  --out FILE    also write the markdown report to FILE\n"
    "  --keep        keep the databases\n";

Options ParseOptions(int argc, char** argv) {
  Options options;
  ParseFlags(argc, argv, kUsage,
             {{"--dir", &options.dir},
              {"--farm", &options.farm},
              {"--out", &options.out},
              {"--conns", &options.conns},
              {"--queries", &options.queries},
              {"--hours", &options.hours},
              {"--keyframe-minutes", &options.keyframe_minutes},
              {"--seed", &options.seed},
              {"--keep", &options.keep}});
  if (options.farm.empty()) options.farm = NextToThisProgram("conn_farm");
  return options;
}

std::string QueryRow(const std::string& label, const std::vector<double>& ms) {
  const double max = Max(ms);
  return fmt::format(
      "| {} | {:.1f} ms median, {:.1f} ms p90, {:.1f} ms max ({} moments) | ≤ {:.0f} ms | {} |\n",
      label, Percentile(ms, 50), Percentile(ms, 90), max, ms.size(), kQueryTargetMs,
      Verdict(max, kQueryTargetMs));
}

}  // namespace

int main(int argc, char** argv) {
  SetProgramName("store_bench");
  const Options options = ParseOptions(argc, argv);
  LogLibrariesToStderr();
  const WorkDirectory work = MakeWorkDirectory(options.dir);
  const std::string& dir = work.path;
  Say("databases in {}", dir);
  RunConditions conditions = RunConditions::Begin(PORTWATCH_SOURCE_DIR, "store collectors",
                                                  {"snapshot_bench", "conn_farm"});
  store::WriterOptions writer_options;
  if (options.keyframe_minutes > 0) {
    writer_options.keyframe_interval = std::chrono::minutes(options.keyframe_minutes);
  }
  const int64_t keyframe_minutes =
      std::chrono::duration_cast<std::chrono::minutes>(writer_options.keyframe_interval).count();

  // 1. The collector first, before the writing phases leave gigabytes of writeback behind.
  const CollectorResult collector =
      RunCollector(options.farm, options.conns, dir + "/collector.db", writer_options, 15);
  // 2-4. Writing: growth, bytes per lifetime, write time. 5. A week.
  const SteadyResult steady = RunSteady(dir + "/steady.db", options.seed, writer_options);
  const ChurnResult churn = RunChurn(dir + "/churn.db", options.seed, writer_options, 0, kHour);
  const ChurnResult churn_tw =
      RunChurn(dir + "/churn_time_wait.db", options.seed, writer_options, kMinute, 30 * kMinute);
  const OnePercentResult one_percent = RunOnePercent(
      dir + "/one_percent.db", options.seed, writer_options, kSecond, options.hours * kHour);
  const OnePercentResult week =
      RunOnePercent(dir + "/week.db", options.seed, writer_options, kMinute, 7 * kDay);

  // 6. Point-in-time queries over each recorded history, once the writing has reached the disk.
  sync();
  std::vector<QueryResult> queries;
  queries.push_back(RunQueries(
      "week at 60 s",
      fmt::format("7 days, 10k sockets, 1% churn per 60 s interval, keyframes every {} min",
                  keyframe_minutes),
      dir + "/week.db", week.timeline, options.queries, options.worst, options.seed));
  queries.push_back(RunQueries(
      fmt::format("{} h at 1 s", options.hours),
      fmt::format("{} h, 10k sockets, 1% churn per 1 s interval (100 lifetimes/s)", options.hours),
      dir + "/one_percent.db", one_percent.timeline, options.queries, options.worst,
      options.seed + 1));
  queries.push_back(RunQueries(
      "churn 200/s", "1 h (+2 min warm-up), 10k steady + 200 lifetimes/s at 1 s", dir + "/churn.db",
      churn.timeline, options.queries, options.worst, options.seed + 2));

  conditions.End();

  // ---- report ----
  std::string report;
  auto out = std::back_inserter(report);
  std::string reproduce = "build/release/tests/bench/store_bench";
  for (int i = 1; i < argc; ++i) reproduce += std::string(" ") + argv[i];
  fmt::format_to(out, "# portwatch history store benchmark\n\n");
  fmt::format_to(out,
                 "- Reproduce (as root, from the repository root): `cmake -S . -B build/release "
                 "-DCMAKE_BUILD_TYPE=Release && cmake --build build/release -j2 && {}`\n",
                 reproduce);
  // The numbers depend on uncommitted changes to the store or the collector, if any: name them.
  fmt::format_to(out, "- Commit {}{}; build type {}, {}, SQLite {}\n", conditions.commit(),
                 conditions.uncommitted().empty()
                     ? ""
                     : " (uncommitted in store/ and collectors/: " + conditions.uncommitted() + ")",
                 PORTWATCH_BUILD_TYPE, "gcc " __VERSION__, sqlite3_libversion());
  fmt::format_to(out, "- Host: {}; databases on {} ({})\n", HostText(), FileSystemOf(dir), dir);
  fmt::format_to(out, "- {}; writer keyframe interval {} min{}\n", conditions.LoadText(),
                 keyframe_minutes,
                 options.keyframe_minutes > 0 ? " (**set by --keyframe-minutes, not the default**)"
                                              : " (the default)");
  if (!conditions.other_benchmarks().empty()) {
    fmt::format_to(out,
                   "- **Warning: other benchmarks ran during this run; timings are skewed:** {}\n",
                   fmt::join(conditions.other_benchmarks(), "; "));
  }

  // Results against the targets.
  const double growth = static_cast<double>(steady.after_hour - steady.after_first);
  const WriteSummary& writes = one_percent.writes;
  fmt::format_to(
      out, "\n## Results\n\n| measurement | result | target | verdict |\n|---|---|---|---|\n");
  fmt::format_to(out,
                 "| Database growth per hour beyond the first snapshot, 10k steady sockets at 1 s "
                 "| {} ({:.0f} B) | < 1 MB | {} |\n",
                 FormatBytes(growth), growth, growth < kGrowthTargetBytes ? "PASS" : "**FAIL**");
  fmt::format_to(
      out,
      "| Bytes on disk per socket lifetime, 10k steady + {}/s churn | {:.0f} B | ≤ {:.0f} "
      "B | {} |\n",
      kChurnPerSecond, churn.BytesPerLifetime(), kLifetimeTargetBytes,
      Verdict(churn.BytesPerLifetime(), kLifetimeTargetBytes));
  fmt::format_to(out,
                 "| Write time per interval, 10k sockets, 1% churn, at 1 s: median | {:.2f} ms | ≤ "
                 "{:.0f} ms | {} |\n",
                 writes.all.median, kWriteTargetMs, Verdict(writes.all.median, kWriteTargetMs));
  fmt::format_to(out,
                 "| Write time per interval, 10k sockets, 1% churn, at 1 s: p99 | {:.2f} ms | ≤ "
                 "{:.0f} ms | {} |\n",
                 writes.all.p99, kWriteTargetMs, Verdict(writes.all.p99, kWriteTargetMs));
  if (collector.failure.empty()) {
    fmt::format_to(out,
                   "| Write time as a share of the collector's own snapshot ({} sockets, {:.1f} ms "
                   "median) | median {:.1f}%, p99 {:.1f}% | — | info |\n",
                   collector.sockets, collector.collect.median,
                   100 * writes.all.median / collector.collect.median,
                   100 * writes.all.p99 / collector.collect.median);
  } else {
    fmt::format_to(out,
                   "| Write time as a share of the collector's snapshot | not measured: {} | — | — "
                   "|\n",
                   collector.failure);
  }
  for (const QueryResult& query : queries) {
    std::vector<double> warm = query.warm_random, cold = query.cold_random;
    warm.insert(warm.end(), query.warm_worst.begin(), query.warm_worst.end());
    cold.insert(cold.end(), query.cold_worst.begin(), query.cold_worst.end());
    fmt::format_to(out, "{}",
                   QueryRow(fmt::format("`StateAt`, {}, warm page cache", query.name), warm));
    fmt::format_to(out, "{}",
                   QueryRow(fmt::format("`StateAt`, {}, cold (file evicted)", query.name), cold));
  }
  if (one_percent.autocheckpoint > 0) {
    fmt::format_to(
        out,
        "\nThe writer leaves SQLite's automatic checkpoint on (wal_autocheckpoint = {0}): it runs "
        "inside the commit of the write that takes the WAL past {0} pages. {1} of the {2} writes "
        "at 1 s ran one ({3:.1f} ms median, {4:.1f} ms max); each write appended {5:.0f} pages "
        "to the WAL (median). Less the checkpoint, the writes take {6:.2f} ms median and {7:.2f} "
        "ms p99.\n",
        one_percent.autocheckpoint, writes.checkpoints.count, writes.all.count,
        writes.checkpoints.median, writes.checkpoints.max, writes.wal_pages,
        writes.without_checkpoint.median, writes.without_checkpoint.p99);
  } else {
    fmt::format_to(out,
                   "\nThe writer turns SQLite's automatic checkpoint off and leaves checkpoints to "
                   "its caller between intervals; the benchmark runs a PASSIVE checkpoint after "
                   "every write, as the agent's loop does, outside the timed write: {:.1f} ms "
                   "median, {:.1f} ms p99, {:.1f} ms max at 1 s. Each write appended {:.0f} pages "
                   "to the WAL (median).\n",
                   writes.after.median, writes.after.p99, writes.after.max, writes.wal_pages);
  }
  for (const QueryResult& query : queries) {
    if (query.mismatches > 0) {
      fmt::format_to(out, "\n**`StateAt` answered wrongly on {} ({} queries), e.g. {}.**\n",
                     query.name, query.mismatches, query.mismatch_example);
    }
  }

  // Writing.
  const SyntheticHost example(options.seed, 0);
  fmt::format_to(out, "\n## Writing\n\n");
  fmt::format_to(
      out,
      "Synthetic snapshots: {} processes of a web server (nginx master and workers, a Java API, "
      "Postgres, Redis, Node, Envoy, the usual daemons) with real-looking names, command lines "
      "and users; {} listeners; connections of a web server's kinds — 45% HTTPS clients from "
      "20k public addresses (¼ IPv6), 20% loopback nginx→API connections (both ends in the "
      "table), 15% database and Redis pools, 12% calls to outside APIs, Postgres clients, SSH, "
      "DNS — with kernel-like cookies and inodes; `DeriveFields` applied. They are written by "
      "`HistoryWriter` (keyframe every {} min) into a fresh database, with simulated time "
      "advancing by the interval. Sizes are measured after `PRAGMA wal_checkpoint(TRUNCATE)` "
      "(main file + WAL, `store::DatabaseBytes`). \"Written\" is what the process handed to "
      "write(2) — WAL frames and checkpoints — from /proc/self/io. Write time is "
      "`HistoryWriter::Write` alone, wall clock, the snapshot built beforehand. Checkpoints are "
      "timed on their own: SQLite's automatic one, if the writer leaves it on, runs inside the "
      "write (timed by a WAL hook equivalent to SQLite's default one); if the writer turns it "
      "off, the benchmark checkpoints after each write, as the agent's loop does.\n\n",
      example.process_count(), example.listener_count(), keyframe_minutes);

  fmt::format_to(out, "### Steady: 10k sockets, one hour at 1 s\n\n");
  fmt::format_to(out,
                 "{} sockets, none changing. After the first write: {}; after 3600 more "
                 "intervals: {} (+{}; {} keyframes). Written: {} ({:.1f} kB per interval). First "
                 "write {:.1f} ms.\n\n",
                 steady.sockets, FormatBytes(static_cast<double>(steady.after_first)),
                 FormatBytes(static_cast<double>(steady.after_hour)), FormatBytes(growth),
                 steady.keyframes, FormatBytes(static_cast<double>(steady.written_bytes)),
                 static_cast<double>(steady.written_bytes) / 3600 / 1e3, steady.first_write_ms);
  fmt::format_to(out, "{}{}\n", kWriteHeader, WriteRow("steady, 10k sockets", steady.writes));
  fmt::format_to(out, "Growth over the hour by table and index:\n\n{}\n",
                 GrowthTable(steady.growth, 1e3, "kB"));

  for (const ChurnResult* run : {&churn, &churn_tw}) {
    if (run->time_wait_ms == 0) {
      fmt::format_to(out,
                     "### Churn: 10k steady sockets + {} socket lifetimes per second, at 1 s\n\n",
                     kChurnPerSecond);
      fmt::format_to(out,
                     "Each second {} new sockets open (a loopback connection counts its two "
                     "sockets) and live 1 s plus an exponentially distributed whole number of "
                     "seconds (mean 9.5 s in all), so every lifetime is seen by at least one "
                     "snapshot; they vanish when due (no TIME_WAIT). Measured over one hour after "
                     "a 2-minute warm-up: ",
                     kChurnPerSecond);
    } else {
      fmt::format_to(out, "### Churn with TIME_WAIT (informational)\n\n");
      fmt::format_to(out,
                     "The same, but the sockets this host closes (outbound connections, the client "
                     "end of loopback ones) stay {} s in TIME_WAIT without an owner before they "
                     "vanish: one state change per such lifetime. Measured over {} minutes after "
                     "the warm-up: ",
                     run->time_wait_ms / kSecond, run->writes.all.count / 60);
    }
    const double bytes = static_cast<double>(run->after - run->before);
    fmt::format_to(
        out,
        "{} lifetimes opened, {} closed, {} state changes; {}–{} sockets per snapshot. "
        "Growth {} = **{:.0f} B per lifetime**. Written: {} ({:.0f} kB per interval, "
        "{:.0f} B per lifetime).\n\n",
        run->lifetimes, run->closed, run->changed, run->sockets_min, run->sockets_max,
        FormatBytes(bytes), run->BytesPerLifetime(),
        FormatBytes(static_cast<double>(run->written_bytes)),
        static_cast<double>(run->written_bytes) / static_cast<double>(run->writes.all.count) / 1e3,
        static_cast<double>(run->written_bytes) / static_cast<double>(run->lifetimes));
    fmt::format_to(out, "Bytes per lifetime by table and index:\n\n{}\n",
                   GrowthTable(run->growth, static_cast<double>(run->lifetimes), "B per lifetime"));
    fmt::format_to(
        out, "{}{}\n", kWriteHeader,
        WriteRow(run->time_wait_ms == 0 ? "churn 200/s" : "churn 200/s + TIME_WAIT", run->writes));
  }

  fmt::format_to(out, "### Write time: 10k sockets, 1% churn per interval\n\n");
  fmt::format_to(
      out,
      "Each interval 100 random sockets close and 100 new ones open (population 10k; "
      "lifetimes exponential, mean 100 intervals). The first write (every socket new) "
      "is left out of the statistics: {:.1f} ms at 1 s, {:.1f} ms for the week. "
      "Written per interval: {:.0f} kB at 1 s, {:.0f} kB for the week.\n\n",
      one_percent.first_write_ms, week.first_write_ms,
      static_cast<double>(one_percent.written_bytes) / static_cast<double>(one_percent.intervals) /
          1e3,
      static_cast<double>(week.written_bytes) / static_cast<double>(week.intervals) / 1e3);
  fmt::format_to(out, "{}{}{}\n", kWriteHeader,
                 WriteRow(fmt::format("{} h at 1 s", options.hours), one_percent.writes),
                 WriteRow("7 days at 60 s", week.writes));

  fmt::format_to(out, "### The real collector on this host\n\n");
  if (collector.failure.empty()) {
    fmt::format_to(
        out,
        "`MakeCollector({{}})->Collect()` (every protocol, with owners) while `conn_farm "
        "{}` holds {} loopback connections: {} sockets in the snapshot, owned by {} {}. One "
        "untimed warm-up pass, then {} timed.\n\n",
        options.conns, options.conns, collector.sockets, collector.processes,
        collector.processes == 1 ? "process" : "processes", collector.collect.count);
    fmt::format_to(out,
                   "| collector (ms) | median | p90 | p99 | max | runs |\n"
                   "|---|---:|---:|---:|---:|---:|\n| `Collect()` | {} |\n\n",
                   TimingCells(collector.collect));
    fmt::format_to(out,
                   "Those real snapshots written into a fresh database: the first write (every "
                   "socket new) {:.1f} ms; the following ones (nothing changed) {:.2f} ms "
                   "median.\n",
                   collector.first_write_ms, collector.later_writes.median);
  } else {
    fmt::format_to(out, "Not measured: {}.\n", collector.failure);
  }

  // Queries.
  double resident = 0;
  for (const QueryResult& query : queries) {
    resident = std::max(resident, query.resident_after_evict);
  }
  fmt::format_to(out, "\n## Point-in-time queries (`store::StateAt`)\n\n");
  fmt::format_to(out,
                 "Each query opens the database read-only (as `portwatch history` does) and calls "
                 "`StateAt` at a moment; the time is `StateAt` alone. Random moments are uniform "
                 "over the recording; worst-case moments are 1 ms before a keyframe, when the most "
                 "sockets have opened since the previous one. Warm: the file is in the page cache "
                 "(just written). Cold: the file is evicted from the page cache (fdatasync + "
                 "POSIX_FADV_DONTNEED) before each query; at most {:.1f}% of it stayed resident. "
                 "Every answer is checked against the number of sockets in the snapshot it must "
                 "reproduce: {} wrong.\n\n",
                 100 * resident,
                 std::accumulate(queries.begin(), queries.end(), 0,
                                 [](int sum, const QueryResult& q) { return sum + q.mismatches; }));
  fmt::format_to(
      out,
      "| history | database | socket rows | B-tree depth | keyframes | rows opened since "
      "the keyframe (median / max) | warm random: median / max | warm worst | cold "
      "random: median / max | cold worst | open (median) |\n"
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const QueryResult& query : queries) {
    fmt::format_to(
        out,
        "| {}: {} | {} | {} | {} | {} | {:.0f} / {:.0f} | {:.1f} / {:.1f} ms | {:.1f} ms "
        "| {:.1f} / {:.1f} ms | {:.1f} ms | {:.2f} ms |\n",
        query.name, query.what, FormatBytes(static_cast<double>(query.db_bytes)),
        query.sockets_rows, query.sockets_depth, query.keyframes, Percentile(query.window_rows, 50),
        Max(query.window_rows), Percentile(query.warm_random, 50), Max(query.warm_random),
        Max(query.warm_worst), Percentile(query.cold_random, 50), Max(query.cold_random),
        Max(query.cold_worst), Percentile(query.open_ms, 50));
  }

  PublishReport(report, options.out);
  if (work.temporary && !options.keep) {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  } else {
    Say("databases kept in {}", dir);
  }
  return 0;
}
