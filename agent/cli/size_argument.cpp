#include "agent/cli/size_argument.h"

#include <fmt/format.h>

#include <charconv>

namespace portwatch::agent {

Result<uint64_t> ParseByteSize(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  std::string_view unit = text.substr(digits);
  if (unit.size() == 2 && (unit[1] == 'B' || unit[1] == 'b')) unit = unit.substr(0, 1);
  int shift = -1;
  if (unit.empty()) shift = 0;
  if (unit == "K" || unit == "k") shift = 10;
  if (unit == "M" || unit == "m") shift = 20;
  if (unit == "G" || unit == "g") shift = 30;
  if (unit == "T" || unit == "t") shift = 40;
  uint64_t amount = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + digits, amount);
  if (digits == 0 || ec != std::errc() || shift < 0) {
    return Error{
        fmt::format("'{}' is not a size; use bytes or a number with K, M, G or T (500M)", text)};
  }
  if (shift > 0 && amount > (UINT64_MAX >> shift)) {
    return Error{fmt::format("size '{}' is too large", text)};
  }
  return amount << shift;
}

}  // namespace portwatch::agent
