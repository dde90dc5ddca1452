#include "agent/rules/baseline.h"

#include <fmt/format.h>
#include <fnmatch.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "agent/replace_file.h"
#include "agent/rules/subject.h"
#include "agent/rules/udp_settle.h"
#include "collectors/parse_number.h"
#include "collectors/ports.h"

namespace portwatch::agent::rules {

namespace {

using collectors::Protocol;

bool ProgramMatches(const std::string& pattern, const collectors::Process* owner) {
  if (pattern.empty()) return true;
  if (owner == nullptr) return false;
  if (pattern.find('/') != std::string::npos) {
    return !owner->exe.empty() && fnmatch(pattern.c_str(), owner->exe.c_str(), 0) == 0;
  }
  // A name: the executable's file name, which prctl(PR_SET_NAME) cannot change; the process's
  // own name only when its executable could not be read (and so the entry was learned by name).
  if (owner->exe.empty()) return fnmatch(pattern.c_str(), owner->name.c_str(), 0) == 0;
  const std::string file = owner->exe.substr(owner->exe.rfind('/') + 1);
  return fnmatch(pattern.c_str(), file.c_str(), 0) == 0;
}

bool EntryMatches(const BaselineEntry& entry, const collectors::Socket& socket,
                  const collectors::Process* owner) {
  if (entry.protocol && *entry.protocol != socket.protocol) return false;
  if (entry.port && *entry.port != socket.local.port) return false;
  if (entry.exposure && *entry.exposure != socket.exposure) return false;
  if (!entry.user.empty() && (owner == nullptr || owner->user != entry.user)) return false;
  return ProgramMatches(entry.program, owner);
}

}  // namespace

BaselineEntry EntryFor(const collectors::Socket& socket, const collectors::Process* owner) {
  BaselineEntry entry;
  entry.program = owner ? ProgramOf(owner) : "";
  entry.protocol = socket.protocol;
  entry.port = socket.local.port;
  entry.user = owner ? owner->user : "";
  entry.exposure = socket.exposure;
  return entry;
}

bool IsBaselineListener(const collectors::Socket& socket) {
  return socket.direction == collectors::Direction::kListen && socket.HasPorts();
}

bool Baseline::Allows(const collectors::Socket& socket, const collectors::Process* owner) const {
  return std::any_of(entries_.begin(), entries_.end(), [&](const BaselineEntry& entry) {
    return EntryMatches(entry, socket, owner);
  });
}

int Baseline::Learn(const collectors::Snapshot& snapshot) {
  int added = 0;
  for (const collectors::Socket& socket : snapshot.sockets) {
    if (!IsBaselineListener(socket)) continue;
    const collectors::Process* owner = snapshot.PrimaryOwner(socket);
    if (Allows(socket, owner)) continue;
    BaselineEntry entry = EntryFor(socket, owner);
    // A program with unconnected UDP sockets in the ephemeral range picks a new port each time
    // (a resolver's queries): it is allowed any UDP port, not the one port seen today.
    if (MaybeTransientUdp(socket, snapshot.host)) entry.port.reset();
    entries_.push_back(std::move(entry));
    ++added;
  }
  return added;
}

Result<Baseline> Baseline::Load(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return Error{fmt::format("cannot read baseline {}: no such file or not readable", path)};
  } catch (const YAML::ParserException& error) {
    return Error{fmt::format("{}:{}: not valid YAML: {}", path, error.mark.line + 1, error.msg)};
  }
  Baseline baseline;
  if (root.IsNull()) return baseline;
  std::vector<std::string> problems;
  const auto problem = [&](const YAML::Node& node, const std::string& message) {
    problems.push_back(fmt::format("{}:{}: {}", path, node.Mark().line + 1, message));
  };
  if (!root.IsMap() || root.size() != 1 || !root["listeners"]) {
    return Error{
        fmt::format("{}:{}: expected one key, listeners: a list of {{program, protocol, "
                    "port, user, exposure}} entries",
                    path, root.Mark().line + 1)};
  }
  const YAML::Node listeners = root["listeners"];
  if (!listeners.IsSequence() && !listeners.IsNull()) {
    problem(listeners, "listeners: expected a list of entries");
  }
  for (const YAML::Node& item : listeners) {
    if (!item.IsMap()) {
      problem(item, "a listener entry is a mapping such as {program: sshd, port: 22}");
      continue;
    }
    BaselineEntry entry;
    for (const auto& field : item) {
      const std::string key = field.first.Scalar();
      const YAML::Node& value = field.second;
      if (!value.IsScalar()) {
        problem(value, fmt::format("{}: expected a single value", key));
        continue;
      }
      const std::string& text = value.Scalar();
      if (key == "program") {
        entry.program = text;
      } else if (key == "user") {
        entry.user = text;
      } else if (key == "protocol") {
        entry.protocol = collectors::ParseProtocolName(text);
        if (!entry.protocol ||
            (*entry.protocol != Protocol::kTcp && *entry.protocol != Protocol::kUdp)) {
          problem(value, fmt::format("protocol: '{}' is not tcp or udp", text));
        }
      } else if (key == "port") {
        uint16_t port = 0;
        if (collectors::ParseNumber(text, port)) {
          entry.port = port;
        } else {
          problem(value, fmt::format("port: '{}' is not a port number (0-65535)", text));
        }
      } else if (key == "exposure") {
        entry.exposure = collectors::ParseExposureName(text);
        if (!entry.exposure) {
          problem(value, fmt::format("exposure: '{}' is not one of loopback, address, all", text));
        }
      } else {
        problem(field.first, fmt::format("unknown key '{}' in a listener entry; known keys: "
                                         "program, protocol, port, user, exposure",
                                         key));
      }
    }
    baseline.entries_.push_back(std::move(entry));
  }
  if (!problems.empty()) return Error{fmt::format("{}", fmt::join(problems, "\n"))};
  return baseline;
}

Result<void> Baseline::Save(const std::string& path, const std::string& comment) const {
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "listeners" << YAML::Value << YAML::BeginSeq;
  for (const BaselineEntry& entry : entries_) {
    out << YAML::Flow << YAML::BeginMap;
    if (!entry.program.empty()) out << YAML::Key << "program" << YAML::Value << entry.program;
    if (entry.protocol) {
      out << YAML::Key << "protocol" << YAML::Value
          << std::string(collectors::ProtocolName(*entry.protocol));
    }
    if (entry.port) out << YAML::Key << "port" << YAML::Value << *entry.port;
    if (!entry.user.empty()) out << YAML::Key << "user" << YAML::Value << entry.user;
    if (entry.exposure) {
      out << YAML::Key << "exposure" << YAML::Value
          << std::string(collectors::ExposureName(*entry.exposure));
    }
    out << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::EndMap;

  std::string text;
  for (size_t start = 0; start < comment.size();) {
    const size_t end = comment.find('\n', start);
    text += fmt::format("# {}\n", comment.substr(start, end - start));
    start = end == std::string::npos ? comment.size() : end + 1;
  }
  text += fmt::format("{}\n", out.c_str());
  return ReplaceFile(path, text);
}

}  // namespace portwatch::agent::rules
