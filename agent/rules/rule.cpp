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
         process_names.empty() && exe_paths.empty() && users.empty() && uids.empty() &&
         parents.empty();
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
  return true;
}

bool ProgramIsOneOf(const std::vector<std::string>& programs, const collectors::Process& process) {
  const size_t slash = process.exe.rfind('/');
  const std::string file = slash == std::string::npos ? process.exe : process.exe.substr(slash + 1);
  return std::any_of(programs.begin(), programs.end(), [&](const std::string& glob) {
    if (glob.find('/') != std::string::npos) {
      return fnmatch(glob.c_str(), process.exe.c_str(), 0) == 0;
    }
    return fnmatch(glob.c_str(), process.name.c_str(), 0) == 0 ||
           (!file.empty() && fnmatch(glob.c_str(), file.c_str(), 0) == 0);
  });
}

DetectorsConfig DefaultDetectors() {
  DetectorsConfig config;
  // Programs that normally hold a well-known service port. A port missing here is not checked.
  config.service_owners = {
      {21, {"vsftpd", "proftpd", "pure-ftpd*", "in.ftpd"}},
      {22, {"sshd", "sshd-session", "dropbear"}},
      {25, {"master", "smtpd", "exim4", "exim", "sendmail", "opensmtpd"}},
      {53,
       {"named", "unbound", "dnsmasq", "systemd-resolve", "coredns", "pdns_server", "pdns_recursor",
        "knotd", "kresd", "bind9"}},
      {389, {"slapd"}},
      {636, {"slapd"}},
      {1433, {"sqlservr"}},
      {1521, {"tnslsnr"}},
      {3306, {"mysqld", "mariadbd", "mysqld_safe"}},
      {5432, {"postgres", "postmaster"}},
      {6379, {"redis-server", "valkey-server", "keydb-server"}},
      {9042, {"java"}},
      {11211, {"memcached"}},
      {27017, {"mongod", "mongos"}},
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
  // managers, link-layer discovery, VRRP and ARP tools.
  config.raw_socket_programs = {"dhclient",     "dhcpcd",         "dhcpd",  "systemd-network*",
                                "NetworkMana*", "wpa_supplicant", "lldpd",  "keepalived",
                                "arping",       "dnsmasq",        "udhcpc", "kea-dhcp*",
                                "ladvd",        "avahi-daemon"};
  return config;
}

}  // namespace portwatch::agent::rules
