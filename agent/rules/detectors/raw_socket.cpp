// 7. A raw or packet socket held by a program with no known reason to read every packet: a
//    sniffer, or a backdoor waiting for a magic packet (BPFDoor, which names itself
//    avahi-daemon). ATT&CK T1040. Programs are matched by their executable's path, not by name.
#include <fmt/format.h>

#include "agent/rules/detectors/detectors.h"

namespace portwatch::agent::rules {

namespace {

class RawSocket final : public Detector {
 public:
  explicit RawSocket(const DetectorsConfig& config)
      : Detector("raw_socket", config.raw_socket), programs_(config.raw_socket_programs) {}

  void Inspect(const DetectionInput& input, std::vector<Finding>& findings) override {
    const collectors::Snapshot& snapshot = input.snapshot;
    for (size_t i = 0; i < snapshot.sockets.size(); ++i) {
      const collectors::Socket& socket = snapshot.sockets[i];
      if (socket.HasPorts()) continue;
      const collectors::Process* owner = snapshot.PrimaryOwner(socket);
      if (owner == nullptr || ProgramIsOneOf(programs_, *owner)) continue;
      const bool packet = socket.protocol == collectors::Protocol::kPacket;
      const std::string what =
          packet
              ? fmt::format(
                    "holds a packet socket (ethertype 0x{:04x}): it can read every "
                    "frame on {}",
                    socket.protocol_number, socket.interface ? "its interface" : "every interface")
              : fmt::format(
                    "holds a raw IP socket (protocol {}): it sees every such packet, "
                    "including ones meant for closed ports",
                    socket.protocol_number);
      AboutSocket(
          snapshot, i,
          fmt::format("{}; {} (named '{}') is not a program allowed to", what,
                      owner->exe.empty() ? "its executable is unknown" : owner->exe, owner->name),
          findings);
    }
  }

 private:
  std::vector<std::string> programs_;
};

}  // namespace

std::unique_ptr<Detector> MakeRawSocket(const DetectorsConfig& config) {
  return std::make_unique<RawSocket>(config);
}

}  // namespace portwatch::agent::rules
