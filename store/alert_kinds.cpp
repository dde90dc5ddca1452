#include "store/alert_kinds.h"

#include <array>

namespace portwatch::store {

namespace {

constexpr std::array<std::string_view, 5> kSeverityNames = {"info", "low", "medium", "high",
                                                            "critical"};
constexpr std::array<std::string_view, 5> kSubjectKindNames = {"listener", "connection", "process",
                                                               "socket", "host"};

}  // namespace

std::string_view SeverityName(int severity) {
  const auto index = static_cast<size_t>(severity - 1);
  return index < kSeverityNames.size() ? kSeverityNames[index] : "unknown";
}

std::string_view SeverityName(Severity severity) {
  return SeverityName(static_cast<int>(severity));
}

std::optional<Severity> ParseSeverity(std::string_view text) {
  for (size_t i = 0; i < kSeverityNames.size(); ++i) {
    if (kSeverityNames[i] == text) return static_cast<Severity>(i + 1);
  }
  return std::nullopt;
}

std::string_view SubjectKindName(int kind) {
  const auto index = static_cast<size_t>(kind - 1);
  return index < kSubjectKindNames.size() ? kSubjectKindNames[index] : "unknown";
}

std::string_view SubjectKindName(SubjectKind kind) {
  return SubjectKindName(static_cast<int>(kind));
}

}  // namespace portwatch::store
