#include "collectors/untrusted_text.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

namespace portwatch::collectors {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Printable ASCII other than the backslash needs no look at all: the common case, kept cheap
// for tables of 100k sockets.
bool PlainAscii(char c) { return c >= 0x20 && c < 0x7F && c != '\\'; }

}  // namespace

Utf8Char DecodeUtf8(std::string_view text, size_t offset) {
  constexpr Utf8Char kInvalid{0xfffd, 1, false};
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[offset + i]); };
  const uint8_t lead = byte(0);
  if (lead < 0x80) return {lead, 1, true};
  size_t size = 0;
  char32_t code_point = 0;
  char32_t smallest = 0;  // anything below is an overlong encoding
  if ((lead & 0xe0) == 0xc0) {
    size = 2;
    code_point = static_cast<char32_t>(lead & 0x1f);
    smallest = 0x80;
  } else if ((lead & 0xf0) == 0xe0) {
    size = 3;
    code_point = static_cast<char32_t>(lead & 0x0f);
    smallest = 0x800;
  } else if ((lead & 0xf8) == 0xf0) {
    size = 4;
    code_point = static_cast<char32_t>(lead & 0x07);
    smallest = 0x10000;
  } else {
    return kInvalid;
  }
  if (offset + size > text.size()) return kInvalid;
  for (size_t i = 1; i < size; ++i) {
    if ((byte(i) & 0xc0) != 0x80) return kInvalid;
    code_point = (code_point << 6) | static_cast<char32_t>(byte(i) & 0x3f);
  }
  if (code_point < smallest || code_point > 0x10ffff ||
      (code_point >= 0xd800 && code_point <= 0xdfff)) {
    return kInvalid;
  }
  return {code_point, size, true};
}

bool IsUnsafeCodePoint(char32_t c) {
  return c < 0x20 || (c >= 0x7F && c < 0xA0) || c == 0x061C || c == 0x200E || c == 0x200F ||
         c == 0x2028 || c == 0x2029 || (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069);
}

void AppendEscapedUntrusted(std::string& out, std::string_view text) {
  auto plain = std::find_if_not(text.begin(), text.end(), PlainAscii);
  out.append(text.begin(), plain);
  for (size_t offset = static_cast<size_t>(plain - text.begin()); offset < text.size();) {
    const char byte = text[offset];
    if (PlainAscii(byte)) {
      out += byte;
      ++offset;
      continue;
    }
    const Utf8Char c = DecodeUtf8(text, offset);
    if (!c.valid) {
      fmt::format_to(std::back_inserter(out), "\\x{:02x}", static_cast<uint8_t>(byte));
    } else if (c.code_point == '\\') {
      out += "\\\\";
    } else if (c.code_point == '\n') {
      out += "\\n";
    } else if (c.code_point == '\r') {
      out += "\\r";
    } else if (c.code_point == '\t') {
      out += "\\t";
    } else if (c.code_point < 0x80 && IsUnsafeCodePoint(c.code_point)) {
      fmt::format_to(std::back_inserter(out), "\\x{:02x}", static_cast<uint32_t>(c.code_point));
    } else if (IsUnsafeCodePoint(c.code_point)) {
      fmt::format_to(std::back_inserter(out), "\\u{:04x}", static_cast<uint32_t>(c.code_point));
    } else {
      out.append(text.substr(offset, c.size));
    }
    offset += c.size;
  }
}

std::string EscapeUntrusted(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  AppendEscapedUntrusted(out, text);
  return out;
}

std::string ReplaceUntrusted(std::string_view text) {
  std::string clean;
  clean.reserve(text.size());
  for (size_t offset = 0; offset < text.size();) {
    const Utf8Char c = DecodeUtf8(text, offset);
    if (!c.valid || IsUnsafeCodePoint(c.code_point)) {
      clean += kReplacement;
    } else {
      clean.append(text.substr(offset, c.size));
    }
    offset += c.size;
  }
  return clean;
}

}  // namespace portwatch::collectors
