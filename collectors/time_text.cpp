#include "collectors/time_text.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <charconv>
#include <chrono>
#include <ctime>
#include <optional>
#include <string>
#include <utility>

#include "collectors/parse_number.h"

namespace portwatch::collectors {

namespace {

constexpr std::string_view kMomentForms =
    "use now, -2h, 2h ago, yesterday 03:10, 2026-11-24 03:10 or 2026-11-24T03:10:00Z";

bool ParseInt(std::string_view text, int& value) { return collectors::ParseNumber(text, value); }

// "03:10" or "03:10:59" into seconds after midnight.
bool ParseClock(std::string_view text, int& hour, int& minute, int& second) {
  second = 0;
  if (text.size() != 5 && text.size() != 8) return false;
  if (text[2] != ':' || (text.size() == 8 && text[5] != ':')) return false;
  if (!ParseInt(text.substr(0, 2), hour) || !ParseInt(text.substr(3, 2), minute)) return false;
  if (text.size() == 8 && !ParseInt(text.substr(6, 2), second)) return false;
  return hour >= 0 && hour <= 23 && minute >= 0 && minute <= 59 && second >= 0 && second <= 60;
}

// Local calendar time to Unix milliseconds; nullopt when it does not exist.
std::optional<int64_t> LocalToMillis(std::tm tm) {
  tm.tm_isdst = -1;
  const std::tm wanted = tm;
  const time_t seconds = std::mktime(&tm);
  if (seconds == static_cast<time_t>(-1)) return std::nullopt;
  // mktime normalises 2026-02-31 to March: reject dates that were not real.
  if (tm.tm_mday != wanted.tm_mday || tm.tm_mon != wanted.tm_mon) return std::nullopt;
  return int64_t{seconds} * 1000;
}

std::optional<int64_t> ParseIso(std::string_view text) {
  // Date part.
  if (text.size() < 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  std::tm tm{};
  int year = 0;
  int month = 0;
  int day = 0;
  if (!ParseInt(text.substr(0, 4), year) || !ParseInt(text.substr(5, 2), month) ||
      !ParseInt(text.substr(8, 2), day) || month < 1 || month > 12 || day < 1 || day > 31) {
    return std::nullopt;
  }
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  text.remove_prefix(10);
  if (text.empty()) return LocalToMillis(tm);
  if (text[0] != 'T' && text[0] != ' ') return std::nullopt;
  text.remove_prefix(1);

  // Time part, then an optional zone: Z or +hh:mm / -hh:mm.
  size_t zone_at = text.find_first_of("Z+-");
  std::string_view clock = text.substr(0, zone_at);
  std::string_view zone = zone_at == std::string_view::npos ? "" : text.substr(zone_at);
  if (const size_t dot = clock.find('.'); dot != std::string_view::npos)
    clock = clock.substr(0, dot);
  int hour = 0;
  int minute = 0;
  int second = 0;
  if (!ParseClock(clock, hour, minute, second)) return std::nullopt;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  if (zone.empty()) return LocalToMillis(tm);
  const std::tm wanted = tm;
  const int64_t utc = int64_t{timegm(&tm)} * 1000;
  // timegm normalises 2026-02-31 to March: reject dates that were not real.
  if (tm.tm_mday != wanted.tm_mday || tm.tm_mon != wanted.tm_mon) return std::nullopt;
  if (zone == "Z") return utc;
  int zone_hours = 0;
  int zone_minutes = 0;
  if (zone.size() != 6 || (zone[0] != '+' && zone[0] != '-') || zone[3] != ':' ||
      !ParseInt(zone.substr(1, 2), zone_hours) || !ParseInt(zone.substr(4, 2), zone_minutes) ||
      zone_hours > 23 || zone_minutes > 59) {
    return std::nullopt;
  }
  const int64_t offset = (int64_t{zone_hours} * 60 + zone_minutes) * 60 * 1000;
  return zone[0] == '+' ? utc - offset : utc + offset;
}

}  // namespace

Result<int64_t> ParseDuration(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  const std::string_view unit = text.substr(digits);
  int64_t amount = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + digits, amount);
  int64_t scale = 0;
  if (unit == "ms") scale = 1;
  if (unit == "s") scale = 1000;
  if (unit == "m") scale = 60 * 1000;
  if (unit == "h") scale = 3600 * 1000;
  if (unit == "d") scale = 24 * 3600 * 1000;
  if (unit == "w") scale = 7 * 24 * 3600 * 1000;
  if (digits == 0 || ec != std::errc() || scale == 0) {
    return Error{fmt::format(
        "'{}' is not a duration; use a number and a unit: 500ms, 30s, 5m, 2h, 7d or 1w", text)};
  }
  if (amount > INT64_MAX / scale / 2) {
    return Error{fmt::format("duration '{}' is too long", text)};
  }
  return amount * scale;
}

Result<int64_t> ParseMoment(std::string_view text, int64_t now_ms) {
  if (text == "now") return now_ms;
  if (!text.empty() && text[0] == '-') {
    Result<int64_t> back = ParseDuration(text.substr(1));
    if (!back) return Error{fmt::format("'{}' is not a time; {}", text, kMomentForms)};
    return now_ms - *back;
  }
  constexpr std::string_view kAgo = " ago";
  if (text.size() > kAgo.size() && text.substr(text.size() - kAgo.size()) == kAgo) {
    Result<int64_t> back = ParseDuration(text.substr(0, text.size() - kAgo.size()));
    if (!back) return Error{fmt::format("'{}' is not a time; {}", text, kMomentForms)};
    return now_ms - *back;
  }
  for (const auto& [word, days_back] : {std::pair<std::string_view, int>{"today ", 0},
                                        std::pair<std::string_view, int>{"yesterday ", 1}}) {
    if (text.substr(0, word.size()) != word) continue;
    int hour = 0;
    int minute = 0;
    int second = 0;
    if (!ParseClock(text.substr(word.size()), hour, minute, second)) break;
    const time_t now_seconds = static_cast<time_t>(now_ms / 1000);
    std::tm tm{};
    localtime_r(&now_seconds, &tm);
    tm.tm_mday -= days_back;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    tm.tm_isdst = -1;
    const time_t seconds = std::mktime(&tm);
    if (seconds != static_cast<time_t>(-1)) return int64_t{seconds} * 1000;
  }
  if (std::optional<int64_t> iso = ParseIso(text)) return *iso;
  return Error{fmt::format("'{}' is not a time; {}", text, kMomentForms)};
}

Result<int64_t> ParseSince(std::string_view text, int64_t now_ms) {
  if (Result<int64_t> back = ParseDuration(text); back) return now_ms - *back;
  return ParseMoment(text, now_ms);
}

std::string FormatLocalTime(int64_t unix_ms) {
  const time_t seconds = static_cast<time_t>(unix_ms / 1000);
  std::tm tm{};
  localtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S", &tm);
  return text;
}

std::string FormatIsoTime(int64_t unix_ms) {
  if (unix_ms < 0) unix_ms = 0;
  const auto time = std::chrono::system_clock::time_point(std::chrono::milliseconds(unix_ms));
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03d}Z",
                     fmt::gmtime(std::chrono::system_clock::to_time_t(time)), unix_ms % 1000);
}

}  // namespace portwatch::collectors
