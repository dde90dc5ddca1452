// ParseNumber: the whole of `text` as an integer, or false. No sign, space or suffix accepted.
#pragma once

#include <charconv>
#include <string_view>

namespace portwatch::collectors {

template <typename T>
bool ParseNumber(std::string_view text, T& value, int base = 10) {
  if (text.empty() || text[0] == '-' || text[0] == '+') return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace portwatch::collectors
