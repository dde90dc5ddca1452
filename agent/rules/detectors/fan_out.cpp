// 8. One process reaching many distinct remote ports or hosts within a window: a port scan or a
//    sweep (ATT&CK T1046, Network Service Discovery).
//
// Each outbound connection counts once, when first seen (those open at the start are not counted);
// the window slides, so the finding ends
// (and the alert resolves) once the process has been quiet for a window. The distinct ports and
// hosts of each window are counted as contacts enter and leave it, so an interval costs one hash
// lookup per outbound connection, however busy the host.
#include <fmt/format.h>

#include <array>
#include <cstring>
#include <deque>
#include <unordered_map>

#include "agent/rules/detectors/detectors.h"
#include "agent/rules/subject.h"
#include "collectors/snapshot_diff.h"

namespace portwatch::agent::rules {

namespace {

// An address as a hashable key: family and bytes.
struct HostKey {
  collectors::Family family;
  std::array<uint8_t, 16> bytes;
  friend bool operator==(const HostKey&, const HostKey&) = default;
};
struct HostKeyHash {
  size_t operator()(const HostKey& key) const {
    uint64_t a = 0;
    uint64_t b = 0;
    std::memcpy(&a, key.bytes.data(), 8);
    std::memcpy(&b, key.bytes.data() + 8, 8);
    return std::hash<uint64_t>()(a * 0x9E3779B97F4A7C15ull ^ b ^ static_cast<uint64_t>(key.family));
  }
};

struct Contact {
  int64_t at = 0;
  HostKey host;
  uint16_t port = 0;
};

// One process's contacts within the window, with the distinct ports and hosts among them.
struct Window {
  std::deque<Contact> contacts;
  std::unordered_map<uint16_t, int> ports;
  std::unordered_map<HostKey, int, HostKeyHash> hosts;

  void Add(const Contact& contact) {
    contacts.push_back(contact);
    ++ports[contact.port];
    ++hosts[contact.host];
  }
  void ExpireBefore(int64_t cutoff) {
    while (!contacts.empty() && contacts.front().at <= cutoff) {
      const Contact& old = contacts.front();
      if (--ports[old.port] == 0) ports.erase(old.port);
      if (--hosts[old.host] == 0) hosts.erase(old.host);
      contacts.pop_front();
    }
  }
};

struct ProcessKey {
  int32_t pid;
  uint64_t start_time;
  friend bool operator==(const ProcessKey&, const ProcessKey&) = default;
};
struct ProcessKeyHash {
  size_t operator()(const ProcessKey& key) const {
    return std::hash<uint64_t>()((uint64_t(uint32_t(key.pid)) << 40) ^ key.start_time);
  }
};

class FanOut final : public Detector {
 public:
  explicit FanOut(const DetectorsConfig& config)
      : Detector("fan_out", config.fan_out),
        max_ports_(config.fan_out_ports),
        max_hosts_(config.fan_out_hosts),
        window_(config.fan_out_window.count()) {}

  void Inspect(const DetectionInput& input, std::vector<Finding>& findings) override {
    const collectors::Snapshot& snapshot = input.snapshot;
    const int64_t now = input.now_ms;
    ++generation_;
    // 1. Every outbound connection not seen before becomes a contact of its process; the
    //    process index of each process with contacts this interval is noted on the way.
    std::unordered_map<ProcessKey, uint32_t, ProcessKeyHash> present;
    for (const collectors::Socket& socket : snapshot.sockets) {
      if (socket.direction != collectors::Direction::kOutbound || socket.owner_count == 0) continue;
      const uint32_t process = snapshot.owner_indices[socket.owners_begin];
      const collectors::Process& owner = snapshot.processes[process];
      const ProcessKey key{owner.pid, owner.start_time};
      present.try_emplace(key, process);
      const auto [seen, inserted] =
          seen_.try_emplace(collectors::SocketIdentity(socket), generation_);
      seen->second = generation_;
      // The first snapshot only learns: connections open when the agent starts were not made
      // within the window (a Prometheus server's scrape targets are no sweep).
      if (!inserted || generation_ == 1) continue;
      const collectors::Address host = socket.remote.address.Unmapped();
      windows_[key].Add({now, {host.family, host.bytes}, socket.remote.port});
    }
    // Connections that are gone can never be seen "again".
    std::erase_if(seen_, [this](const auto& entry) { return entry.second != generation_; });

    // 2. Slide each window and judge it.
    for (auto it = windows_.begin(); it != windows_.end();) {
      Window& window = it->second;
      window.ExpireBefore(now - window_);
      if (window.contacts.empty()) {
        it = windows_.erase(it);
        continue;
      }
      const int ports = static_cast<int>(window.ports.size());
      const int hosts = static_cast<int>(window.hosts.size());
      const auto process = present.find(it->first);
      if ((ports >= max_ports_ || hosts >= max_hosts_) && process != present.end()) {
        Finding finding =
            Make(fmt::format("reached {} distinct remote ports on {} hosts within {} s (limits: {} "
                             "ports, {} hosts)",
                             ports, hosts, window_ / 1000, max_ports_, max_hosts_),
                 ProcessSubject(snapshot.processes[process->second]), SubjectKind::kProcess);
        finding.process = process->second;
        findings.push_back(std::move(finding));
      }
      ++it;
    }
  }

 private:
  int max_ports_;
  int max_hosts_;
  int64_t window_;
  uint64_t generation_ = 0;
  std::unordered_map<uint64_t, uint64_t> seen_;  // socket identity -> generation last seen
  std::unordered_map<ProcessKey, Window, ProcessKeyHash> windows_;
};

}  // namespace

std::unique_ptr<Detector> MakeFanOut(const DetectorsConfig& config) {
  return std::make_unique<FanOut>(config);
}

}  // namespace portwatch::agent::rules
