#include "api/query.h"

#include <fmt/format.h>

#include "api/router.h"
#include "collectors/parse_number.h"
#include "collectors/time_text.h"

namespace portwatch::api {

namespace {

[[noreturn]] void Bad(const char* name, std::string_view message) {
  throw HttpError{400, fmt::format("{}: {}", name, message)};
}

}  // namespace

std::optional<std::string> Query::Text(const char* name) const {
  if (!request_.has_param(name)) return std::nullopt;
  return request_.get_param_value(name);
}

std::optional<int64_t> Query::Int(const char* name, int64_t min, int64_t max) const {
  const std::optional<std::string> text = Text(name);
  if (!text) return std::nullopt;
  int64_t value = 0;
  if (!collectors::ParseNumber(*text, value) || value < min || value > max) {
    Bad(name, fmt::format("'{}' is not a whole number from {} to {}", *text, min, max));
  }
  return value;
}

int64_t Query::Int(const char* name, int64_t fallback, int64_t min, int64_t max) const {
  return Int(name, min, max).value_or(fallback);
}

bool Query::Bool(const char* name, bool fallback) const {
  const std::optional<std::string> text = Text(name);
  if (!text) return fallback;
  if (text->empty() || *text == "true" || *text == "1" || *text == "yes") return true;
  if (*text == "false" || *text == "0" || *text == "no") return false;
  Bad(name, fmt::format("'{}' is not a boolean; use true or false", *text));
}

std::optional<int64_t> Query::Moment(const char* name, int64_t now_ms) const {
  const std::optional<std::string> text = Text(name);
  if (!text) return std::nullopt;
  Result<int64_t> moment = collectors::ParseMoment(*text, now_ms);
  if (!moment) Bad(name, moment.error().message);
  return *moment;
}

std::optional<int64_t> Query::Since(const char* name, int64_t now_ms) const {
  const std::optional<std::string> text = Text(name);
  if (!text) return std::nullopt;
  Result<int64_t> moment = collectors::ParseSince(*text, now_ms);
  if (!moment) Bad(name, moment.error().message);
  return *moment;
}

std::optional<int64_t> Query::Duration(const char* name) const {
  const std::optional<std::string> text = Text(name);
  if (!text) return std::nullopt;
  Result<int64_t> duration = collectors::ParseDuration(*text);
  if (!duration) Bad(name, duration.error().message);
  return *duration;
}

std::optional<collectors::Cidr> Query::Network(const char* name) const {
  const std::optional<std::string> text = Text(name);
  if (!text) return std::nullopt;
  Result<collectors::Cidr> block = collectors::Cidr::Parse(*text);
  if (!block) Bad(name, block.error().message);
  return *block;
}

int64_t PathNumber(const std::string& text, std::string_view what, int64_t min, int64_t max) {
  int64_t value = 0;
  if (!collectors::ParseNumber(text, value) || value < min || value > max) {
    throw HttpError{
        400, fmt::format("'{}' is not a {} (a whole number from {} to {})", text, what, min, max)};
  }
  return value;
}

}  // namespace portwatch::api
