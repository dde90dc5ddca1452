#include "collectors/linux/proc_pid_parser.h"

#include "collectors/parse_number.h"

namespace portwatch::collectors::linux {

std::optional<ProcStat> ParseProcStat(std::string_view text) {
  const size_t open = text.find('(');
  const size_t close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return std::nullopt;
  }
  ProcStat stat;
  stat.name = std::string(text.substr(open + 1, close - open - 1));
  // Fields after the name, 1-based as in proc(5): 3 state, 4 ppid, ..., 22 starttime.
  std::string_view rest = text.substr(close + 1);
  int field = 2;
  while (!rest.empty() && field < 22) {
    const size_t start = rest.find_first_not_of(' ');
    if (start == std::string_view::npos) break;
    size_t end = rest.find_first_of(" \n", start);
    if (end == std::string_view::npos) end = rest.size();
    const std::string_view value = rest.substr(start, end - start);
    rest.remove_prefix(end);
    ++field;
    if (field == 4 && !ParseNumber(value, stat.ppid)) return std::nullopt;
    if (field == 22) {
      // The field must be followed by more text: a read cut short could end mid-number.
      if (rest.empty() || !ParseNumber(value, stat.start_time)) return std::nullopt;
      return stat;
    }
  }
  return std::nullopt;
}

std::optional<uint32_t> ParseStatusEffectiveUid(std::string_view text) {
  size_t position = 0;
  while (position < text.size()) {
    size_t end = text.find('\n', position);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(position, end - position);
    position = end + 1;
    if (line.substr(0, 4) != "Uid:") continue;
    line.remove_prefix(4);
    // Skip the real uid, then read the effective one.
    for (int column = 0; column < 2; ++column) {
      const size_t start = line.find_first_not_of(" \t");
      if (start == std::string_view::npos) return std::nullopt;
      size_t stop = line.find_first_of(" \t", start);
      if (stop == std::string_view::npos) stop = line.size();
      if (column == 1) {
        uint32_t uid = 0;
        if (!ParseNumber(line.substr(start, stop - start), uid)) return std::nullopt;
        return uid;
      }
      line.remove_prefix(stop);
    }
  }
  return std::nullopt;
}

std::string JoinCmdline(std::string_view raw) {
  while (!raw.empty() && raw.back() == '\0') raw.remove_suffix(1);
  std::string joined(raw);
  for (char& c : joined) {
    if (c == '\0') c = ' ';
  }
  return joined;
}

std::string_view StripDeletedSuffix(std::string_view exe, bool& deleted) {
  constexpr std::string_view kSuffix = " (deleted)";
  deleted = exe.size() > kSuffix.size() && exe.substr(exe.size() - kSuffix.size()) == kSuffix;
  return deleted ? exe.substr(0, exe.size() - kSuffix.size()) : exe;
}

}  // namespace portwatch::collectors::linux
