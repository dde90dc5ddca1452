// Parsers for the /proc/PID files portwatch reads about a socket's owner.
//
// Pure functions over file contents, tested on fixtures. Thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace portwatch::collectors::linux {

struct ProcStat {
  std::string name;  // comm: may contain spaces and parentheses
  int32_t ppid = 0;
  uint64_t start_time = 0;  // clock ticks after boot
};

// /proc/PID/stat. The command name is found between the first '(' and the last ')', since it may
// itself contain ") ".
std::optional<ProcStat> ParseProcStat(std::string_view text);

// The effective uid from /proc/PID/status ("Uid:\treal\teffective\tsaved\tfs").
std::optional<uint32_t> ParseStatusEffectiveUid(std::string_view text);

// /proc/PID/cmdline: NUL-separated arguments joined with spaces, trailing NULs dropped.
std::string JoinCmdline(std::string_view raw);

// Splits a /proc/PID/exe link target into the path and whether the kernel marked it deleted.
std::string_view StripDeletedSuffix(std::string_view exe, bool& deleted);

}  // namespace portwatch::collectors::linux
