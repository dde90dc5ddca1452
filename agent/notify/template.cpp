#include "agent/notify/template.h"

#include <fmt/format.h>

#include <array>

#include "agent/notify/targets.h"
#include "collectors/time_text.h"

namespace portwatch::agent::notify {

namespace {

// In the order of kFieldNames.
enum class Field : uint8_t {
  kHost,
  kEvent,
  kSeverity,
  kTitle,
  kRule,
  kReason,
  kReasons,
  kProgram,
  kExe,
  kPid,
  kUser,
  kProtocol,
  kLocal,
  kRemote,
  kPort,
  kService,
  kCategory,
  kExposure,
  kCount,
  kId,
  kLink,
  kFirstSeen,
  kLastSeen,
};

constexpr std::array<std::string_view, 23> kFieldNames = {
    "host",     "event",    "severity", "title",    "rule",  "reason",     "reasons",  "program",
    "exe",      "pid",      "user",     "protocol", "local", "remote",     "port",     "service",
    "category", "exposure", "count",    "id",       "link",  "first_seen", "last_seen"};
static_assert(kFieldNames.size() == static_cast<size_t>(Field::kLastSeen) + 1);

constexpr std::string_view kOpen = "{{";
constexpr std::string_view kClose = "}}";

std::string_view Trim(std::string_view text) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return text;
}

std::string Value(const Message& message, Field field) {
  switch (field) {
    case Field::kHost:
      return message.host;
    case Field::kEvent:
      return message.test ? "test" : std::string(EventName(message.event));
    case Field::kSeverity:
      return message.severity;
    case Field::kTitle:
      return message.alert.title;
    case Field::kRule:
      return message.rule();
    case Field::kReason:
      return message.reasons.empty() ? "" : message.reasons.front().text;
    case Field::kReasons:
      return JoinReasons(message, "; ");
    case Field::kProgram:
      return message.program;
    case Field::kExe:
      return message.exe;
    case Field::kPid:
      return message.pid ? fmt::format("{}", *message.pid) : "";
    case Field::kUser:
      return message.user;
    case Field::kProtocol:
      return message.protocol;
    case Field::kLocal:
      return message.local;
    case Field::kRemote:
      return message.remote;
    case Field::kPort:
      return message.port ? fmt::format("{}", *message.port) : "";
    case Field::kService:
      return message.service;
    case Field::kCategory:
      return message.category;
    case Field::kExposure:
      return message.exposure;
    case Field::kCount:
      return fmt::format("{}", message.alert.count);
    case Field::kId:
      return fmt::format("{}", message.alert.id);
    case Field::kLink:
      return message.link;
    case Field::kFirstSeen:
      return collectors::FormatIsoTime(message.alert.first_seen);
    case Field::kLastSeen:
      return collectors::FormatIsoTime(message.alert.last_seen);
  }
  return "";
}

}  // namespace

std::string_view Template::FieldNames() {
  static const std::string kList = [] {
    std::string list;
    for (const std::string_view name : kFieldNames) {
      if (!list.empty()) list += ", ";
      list += name;
    }
    return list;
  }();
  return kList;
}

Result<Template> Template::Parse(std::string_view text) {
  if (Trim(text).empty()) {
    return Error{"the template is empty; remove it to use the built-in text"};
  }
  std::vector<Piece> pieces;
  size_t offset = 0;
  while (offset < text.size()) {
    const size_t open = text.find(kOpen, offset);
    if (open == std::string_view::npos) {
      pieces.push_back({std::string(text.substr(offset)), -1});
      break;
    }
    if (open > offset) pieces.push_back({std::string(text.substr(offset, open - offset)), -1});
    const size_t close = text.find(kClose, open + kOpen.size());
    if (close == std::string_view::npos) {
      return Error{fmt::format("{} at character {} is not closed; end the field with {}", kOpen,
                               open + 1, kClose)};
    }
    const std::string_view name =
        Trim(text.substr(open + kOpen.size(), close - open - kOpen.size()));
    if (name.empty()) {
      return Error{fmt::format("empty field {}{} at character {}; use one of {}", kOpen, kClose,
                               open + 1, FieldNames())};
    }
    int field = -1;
    for (size_t i = 0; i < kFieldNames.size() && field < 0; ++i) {
      if (kFieldNames[i] == name) field = static_cast<int>(i);
    }
    if (field < 0) {
      return Error{
          fmt::format("unknown field {}{}{}; use one of {}", kOpen, name, kClose, FieldNames())};
    }
    pieces.push_back({"", field});
    offset = close + kClose.size();
  }
  return Template(std::move(pieces));
}

std::string Template::Render(const Message& message) const { return Render(message, nullptr); }

std::string Template::Render(const Message& message, Escape escape) const {
  std::string out;
  for (const Piece& piece : pieces_) {
    if (piece.field < 0) {
      out += piece.literal;
      continue;
    }
    const std::string value = Value(message, static_cast<Field>(piece.field));
    out += escape != nullptr ? escape(value) : value;
  }
  return out;
}

}  // namespace portwatch::agent::notify
