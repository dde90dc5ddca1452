#include "agent/rules/subject.h"

#include <fmt/format.h>

#include "collectors/ports.h"

namespace portwatch::agent::rules {

using collectors::Direction;
using collectors::ProtocolName;

std::string ProgramOf(const collectors::Process* owner) {
  if (owner == nullptr) return "?";
  if (!owner->exe.empty()) return owner->exe;
  return owner->name.empty() ? "?" : owner->name;
}

namespace {

std::string Owner(const collectors::Socket& socket, const collectors::Process* owner) {
  return fmt::format("program={} user={}", ProgramOf(owner),
                     owner ? owner->user : std::to_string(socket.uid));
}

}  // namespace

std::string SocketSubject(const collectors::Socket& socket, const collectors::Process* owner) {
  const std::string_view protocol = ProtocolName(socket.protocol);
  if (!socket.HasPorts()) {
    return fmt::format("socket {} protocol={} {}", protocol, socket.protocol_number,
                       Owner(socket, owner));
  }
  switch (socket.direction) {
    case Direction::kListen:
      return fmt::format("listener {}/{} exposure={} {}", protocol, socket.local.port,
                         collectors::ExposureName(socket.exposure), Owner(socket, owner));
    case Direction::kInbound:
      return fmt::format("connection {} inbound port {} from {} {}", protocol, socket.local.port,
                         socket.remote.address.Unmapped().ToString(), Owner(socket, owner));
    default: {
      const collectors::Endpoint remote{socket.remote.address.Unmapped(), socket.remote.port};
      return fmt::format("connection {} {} {} {}", protocol,
                         collectors::DirectionName(socket.direction), remote.ToString(),
                         Owner(socket, owner));
    }
  }
}

std::string ProcessSubject(const collectors::Process& process) {
  return fmt::format("process program={} user={}", ProgramOf(&process), process.user);
}

SubjectKind SocketSubjectKind(const collectors::Socket& socket) {
  if (!socket.HasPorts()) return SubjectKind::kSocket;
  return socket.direction == Direction::kListen ? SubjectKind::kListener : SubjectKind::kConnection;
}

}  // namespace portwatch::agent::rules
