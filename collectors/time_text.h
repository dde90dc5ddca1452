// Parsing of the times and durations users type on the command line.
//
// Moments: "now", ISO 8601 ("2026-11-24T03:10:00Z", "2026-11-24T03:10+02:00", "2026-11-24 03:10"
// and "2026-11-24" in local time), relative ("-2h", "-90m", "2h ago"), and "today 03:10" or
// "yesterday 03:10" in local time. Durations: a number and a unit: "500ms", "30s", "5m", "2h",
// "7d", "1w". Pure except for the local time zone; errors name the input and the forms accepted.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "collectors/result.h"

namespace portwatch::collectors {

// Milliseconds.
Result<int64_t> ParseDuration(std::string_view text);

// Unix milliseconds; now_ms is "now".
Result<int64_t> ParseMoment(std::string_view text, int64_t now_ms);

// --since: a duration back from now ("24h") or a moment.
Result<int64_t> ParseSince(std::string_view text, int64_t now_ms);

// "2026-11-24 03:10:00" in local time, for tables.
std::string FormatLocalTime(int64_t unix_ms);

// "2026-11-24T03:10:00.123Z" (UTC, milliseconds), for JSON; negative times print as the epoch.
std::string FormatIsoTime(int64_t unix_ms);

}  // namespace portwatch::collectors
