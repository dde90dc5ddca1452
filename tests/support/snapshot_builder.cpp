#include "tests/support/snapshot_builder.h"

#include <chrono>

#include "collectors/derive.h"

namespace portwatch::testing {

using collectors::Address;
using collectors::Family;
using collectors::Process;
using collectors::Protocol;
using collectors::Snapshot;
using collectors::Socket;
using collectors::SocketState;

Socket Tcp(uint64_t cookie, const char* local, uint16_t local_port, const char* remote,
           uint16_t remote_port, SocketState state, std::optional<uint64_t> inode) {
  Socket socket;
  socket.protocol = Protocol::kTcp;
  socket.local = {*Address::Parse(local), local_port};
  socket.remote = {*Address::Parse(remote), remote_port};
  socket.family = socket.local.address.family;
  socket.state = state;
  socket.cookie = cookie;
  socket.inode = inode.value_or(cookie == 0 ? 0 : cookie + 100000);
  socket.netns = kHostNetns;
  socket.uid = 1000;
  return socket;
}

Socket Listener(uint64_t cookie, const char* local, uint16_t port) {
  const char* any = Address::Parse(local)->family == Family::kIpv6 ? "::" : "0.0.0.0";
  return Tcp(cookie, local, port, any, 0, SocketState::kListen);
}

Socket Udp(uint64_t cookie, const char* local, uint16_t port) {
  const char* any = Address::Parse(local)->family == Family::kIpv6 ? "::" : "0.0.0.0";
  Socket socket = Tcp(cookie, local, port, any, 0, SocketState::kClose);
  socket.protocol = Protocol::kUdp;
  return socket;
}

Socket Packet(uint64_t cookie) {
  Socket socket;
  socket.protocol = Protocol::kPacket;
  socket.family = Family::kUnspec;
  socket.state = SocketState::kClose;
  socket.cookie = cookie;
  socket.inode = cookie + 100000;
  socket.netns = kHostNetns;
  socket.protocol_number = 3;
  socket.interface = 2;
  return socket;
}

Socket Raw(uint64_t cookie) {
  Socket socket = Tcp(cookie, "0.0.0.0", 0, "0.0.0.0", 0, SocketState::kClose);
  socket.protocol = Protocol::kRaw;
  socket.protocol_number = 1;
  return socket;
}

Process Proc(int32_t pid, uint64_t start_time, const std::string& name) {
  Process process;
  process.pid = pid;
  process.ppid = 1;
  process.start_time = start_time;
  process.uid = 1000;
  process.name = name;
  process.exe = "/usr/bin/" + name;
  process.cmdline = name + " --flag";
  process.user = "alice";
  return process;
}

SnapshotBuilder::SnapshotBuilder(int64_t at_ms) {
  snapshot_.taken_at = std::chrono::system_clock::time_point(std::chrono::milliseconds(at_ms));
  snapshot_.netns = kHostNetns;
}

SnapshotBuilder& SnapshotBuilder::Add(Socket socket, const std::optional<Process>& owner) {
  socket.owners_begin = static_cast<uint32_t>(snapshot_.owner_indices.size());
  socket.owner_count = 0;
  socket.owner_status = collectors::OwnerStatus::kKernel;
  if (owner) {
    uint32_t index = 0;
    while (index < snapshot_.processes.size() &&
           !(snapshot_.processes[index].pid == owner->pid &&
             snapshot_.processes[index].start_time == owner->start_time)) {
      ++index;
    }
    if (index == snapshot_.processes.size()) snapshot_.processes.push_back(*owner);
    snapshot_.owner_indices.push_back(index);
    socket.owner_count = 1;
    socket.owner_status = collectors::OwnerStatus::kKnown;
  }
  snapshot_.sockets.push_back(socket);
  return *this;
}

Snapshot SnapshotBuilder::Build() const {
  Snapshot snapshot = snapshot_;
  collectors::DeriveFields(snapshot);
  return snapshot;
}

}  // namespace portwatch::testing
