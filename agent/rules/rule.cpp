#include "agent/rules/rule.h"

#include <fnmatch.h>

#include <algorithm>

namespace portwatch::agent::rules {

namespace {

bool Glob(const std::vector<std::string>& patterns, const std::string& text) {
  return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& pattern) {
    return fnmatch(pattern.c_str(), text.c_str(), 0) == 0;
  });
}

template <typename T>
bool OneOf(const std::vector<T>& values, const T& value) {
  return values.empty() || std::find(values.begin(), values.end(), value) != values.end();
}

bool InAny(const std::vector<collectors::Cidr>& blocks, const collectors::Address& address) {
  return std::any_of(blocks.begin(), blocks.end(),
                     [&](const collectors::Cidr& block) { return block.Contains(address); });
}

PortSet Ports(std::initializer_list<uint16_t> ports) {
  PortSet set;
  for (const uint16_t port : ports) set.ranges.emplace_back(port, port);
  return set;
}

// Absolute paths under /usr, each with its twin without /usr for systems without /usr-merge
// (/sbin/dhclient, /lib/systemd/systemd-networkd on Debian 10): both are root's directories.
std::vector<std::string> Installed(std::initializer_list<const char*> paths) {
  std::vector<std::string> all;
  for (const std::string path : paths) {
    all.push_back(path);
    for (const char* top : {"/usr/bin/", "/usr/sbin/", "/usr/lib/"}) {
      if (path.starts_with(top)) all.push_back(path.substr(4));
    }
  }
  return all;
}

}  // namespace

bool PortSet::Contains(uint16_t port) const {
  return std::any_of(ranges.begin(), ranges.end(), [port](const auto& range) {
    return range.first <= port && port <= range.second;
  });
}

bool Condition::empty() const {
  return protocols.empty() && states.empty() && !local_ports && !remote_ports &&
         exposures.empty() && remote_networks.empty() && local_networks.empty() &&
         directions.empty() && categories.empty() && remote_classes.empty() &&
         process_names.empty() && exe_paths.empty() && packages.empty() && sha256s.empty() &&
         users.empty() && uids.empty() && parents.empty();
}

bool Matches(const Condition& condition, const collectors::Socket& socket,
             const collectors::Process* owner, ConditionContext& context) {
  // Cheap socket fields first: most conditions are decided before any string is compared.
  if (!OneOf(condition.protocols, socket.protocol) || !OneOf(condition.states, socket.state) ||
      !OneOf(condition.exposures, socket.exposure) ||
      !OneOf(condition.directions, socket.direction) ||
      !OneOf(condition.categories, socket.port_category) ||
      !OneOf(condition.remote_classes, socket.remote_class)) {
    return false;
  }
  if (condition.local_ports &&
      !(socket.HasPorts() && condition.local_ports->Contains(socket.local.port))) {
    return false;
  }
  if (condition.remote_ports && !(socket.HasPorts() && socket.remote.port != 0 &&
                                  condition.remote_ports->Contains(socket.remote.port))) {
    return false;
  }
  if (!condition.remote_networks.empty() &&
      (socket.remote.port == 0 || !InAny(condition.remote_networks, socket.remote.address))) {
    return false;
  }
  if (!condition.local_networks.empty() && !InAny(condition.local_networks, socket.local.address)) {
    return false;
  }
  const bool tests_process = !condition.process_names.empty() || !condition.exe_paths.empty() ||
                             !condition.packages.empty() || !condition.sha256s.empty() ||
                             !condition.users.empty() || !condition.parents.empty();
  if (!condition.uids.empty()) {
    // The socket's own uid is known even when its owner is not.
    if (!OneOf(condition.uids, owner ? owner->uid : socket.uid)) return false;
  }
  if (!tests_process) return true;
  if (owner == nullptr) return false;
  if (!condition.process_names.empty() && !Glob(condition.process_names, owner->name)) {
    return false;
  }
  if (!condition.exe_paths.empty() && !Glob(condition.exe_paths, owner->exe)) return false;
  if (!OneOf(condition.users, owner->user)) return false;
  if (!condition.parents.empty() && !Glob(condition.parents, context.ParentName(owner->ppid))) {
    return false;
  }
  // The costly tests last, and only when every other test passed: each may read the whole file.
  if (!condition.sha256s.empty()) {
    const std::optional<std::string> sha256 = context.ExeSha256(*owner);
    if (!sha256 || !OneOf(condition.sha256s, *sha256)) return false;
  }
  if (!condition.packages.empty()) {
    const std::string package = context.ExePackage(*owner);
    if (package.empty() || !Glob(condition.packages, package)) return false;
  }
  return true;
}

bool ProgramIsOneOf(const std::vector<std::string>& programs, const collectors::Process& process) {
  if (process.exe.empty()) return false;  // what it is is unknown: not one of them
  const size_t slash = process.exe.rfind('/');
  const std::string file = slash == std::string::npos ? process.exe : process.exe.substr(slash + 1);
  return std::any_of(programs.begin(), programs.end(), [&](const std::string& glob) {
    const std::string& text = IsBareProgramName(glob) ? file : process.exe;
    return !text.empty() && fnmatch(glob.c_str(), text.c_str(), 0) == 0;
  });
}

bool IsBareProgramName(const std::string& glob) { return glob.find('/') == std::string::npos; }

DetectorsConfig DefaultDetectors() {
  DetectorsConfig config;
  // Programs that normally hold a well-known service port, by the absolute paths Debian, Ubuntu
  // and RHEL-family packages install them to (a name would pass any process calling itself so).
  // A port missing here is not checked.
  config.service_owners = {
      {21, Installed({"/usr/sbin/vsftpd", "/usr/sbin/proftpd", "/usr/sbin/pure-ftpd*",
                      "/usr/sbin/in.ftpd"})},
      // sshd, OpenSSH 9.8's per-connection sshd-session (Debian, RHEL, Arch spellings), Dropbear,
      // and systemd holding the socket for ssh.socket activation (Ubuntu's default since 22.10).
      {22, Installed({"/usr/sbin/sshd", "/usr/lib/openssh/sshd-session",
                      "/usr/libexec/openssh/sshd-session", "/usr/lib/ssh/sshd-session",
                      "/usr/sbin/dropbear", "/usr/lib/systemd/systemd"})},
      {25, Installed({"/usr/lib/postfix/sbin/master", "/usr/libexec/postfix/master",
                      "/usr/lib/postfix/sbin/smtpd", "/usr/libexec/postfix/smtpd",
                      "/usr/sbin/exim4", "/usr/sbin/exim", "/usr/sbin/sendmail*", "/usr/sbin/smtpd",
                      "/usr/sbin/opensmtpd"})},
      {53,
       Installed({"/usr/sbin/named", "/usr/sbin/unbound", "/usr/sbin/dnsmasq",
                  "/usr/lib/systemd/systemd-resolved", "/usr/bin/coredns", "/usr/sbin/pdns_server",
                  "/usr/sbin/pdns_recursor", "/usr/sbin/knotd", "/usr/sbin/kresd"})},
      {389, Installed({"/usr/sbin/slapd"})},
      {636, Installed({"/usr/sbin/slapd"})},
      {1433, {"/opt/mssql/bin/sqlservr"}},
      {1521, {"/u01/app/oracle/product/*/bin/tnslsnr", "/opt/oracle/product/*/bin/tnslsnr"}},
      {3306, Installed({"/usr/sbin/mysqld", "/usr/sbin/mariadbd", "/usr/libexec/mysqld",
                        "/usr/libexec/mariadbd"})},
      // Debian's versioned clusters, RHEL's package and the PGDG packages.
      {5432, Installed({"/usr/lib/postgresql/*/bin/postgres", "/usr/bin/postgres",
                        "/usr/bin/postmaster", "/usr/pgsql-*/bin/postgres"})},
      {6379,
       Installed({"/usr/bin/redis-server", "/usr/bin/valkey-server", "/usr/bin/keydb-server"})},
      // Cassandra: a JVM from the distribution's openjdk packages.
      {9042, Installed({"/usr/lib/jvm/*/bin/java"})},
      {11211, Installed({"/usr/bin/memcached"})},
      {27017, Installed({"/usr/bin/mongod", "/usr/bin/mongos"})},
  };
  // Databases, caches, search engines, message brokers, admin and container APIs: reachable from
  // anywhere when bound to 0.0.0.0 or ::, and often without authentication.
  config.sensitive_ports =
      Ports({1433, 1521, 2375, 2376, 2379,  2380,  3306,  4369,  5432,  5601,  5984,  6379, 8086,
             8500, 9042, 9200, 9300, 10250, 10255, 11211, 15672, 27017, 27018, 28017, 50070});
  // Ports used by common backdoors, remote-access trojans, C2 frameworks and miners' pools
  // (ATT&CK T1571, Non-Standard Port): Metasploit 4444, "elite" 31337 and 1337, IRC bots 6667,
  // NetBus 12345, Stratum pools 3333, 5555, 7777, 14444 and 14433, Back Orifice 31338 ...
  config.backdoor_ports =
      Ports({1337,  3333,  4444,  4445,  5554,  5555,  6666,  6667,  6697,  7777,
             12345, 12346, 14433, 14444, 27374, 31337, 31338, 45560, 45700, 54321});
  config.suspicious_dirs = {"/tmp/", "/var/tmp/", "/dev/shm/", "/run/shm/", "/dev/mqueue/"};
  // Programs with a reason to hold raw or packet sockets: DHCP clients and servers, network
  // managers, link-layer discovery, VRRP and ARP tools, mDNS. By path: BPFDoor's documented
  // disguise is the name avahi-daemon.
  config.raw_socket_programs = Installed(
      {"/usr/sbin/dhclient", "/usr/sbin/dhcpcd", "/usr/bin/dhcpcd", "/usr/sbin/dhcpd",
       "/usr/lib/systemd/systemd-networkd", "/usr/sbin/NetworkManager",
       "/usr/lib/NetworkManager/nm-dhcp-helper", "/usr/sbin/wpa_supplicant", "/usr/sbin/lldpd",
       "/usr/sbin/keepalived", "/usr/bin/arping", "/usr/sbin/arping", "/usr/sbin/dnsmasq",
       "/usr/sbin/kea-dhcp*", "/usr/sbin/ladvd", "/usr/sbin/avahi-daemon"});
  return config;
}

}  // namespace portwatch::agent::rules
