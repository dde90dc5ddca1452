// AppendJsonString: a string as a JSON string literal, appended to a buffer.
//
// The CLI streams large JSON arrays (100k sockets) straight into an output buffer; building a
// document tree first would cost an allocation per key. Process names, paths and command lines
// may hold any bytes, so escaping follows RFC 8259 and replaces invalid UTF-8 with U+FFFD.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace portwatch::api {

void AppendJsonString(std::string& out, std::string_view text);

// Writes one flat JSON object field by field into a buffer it does not own.
class JsonObjectWriter {
 public:
  explicit JsonObjectWriter(std::string& out) : out_(out) { out_ += '{'; }
  ~JsonObjectWriter() { out_ += '}'; }
  JsonObjectWriter(const JsonObjectWriter&) = delete;
  JsonObjectWriter& operator=(const JsonObjectWriter&) = delete;

  void String(std::string_view key, std::string_view value);
  // null when the value is empty.
  void StringOrNull(std::string_view key, std::string_view value);
  void Number(std::string_view key, int64_t value);
  void Unsigned(std::string_view key, uint64_t value);  // inodes, cookies: never negative
  void Number(std::string_view key, std::optional<int64_t> value);  // null when unset
  void Bool(std::string_view key, bool value);
  void Null(std::string_view key);
  // A value already in JSON form (an address literal, an array).
  void Raw(std::string_view key, std::string_view json);

 private:
  void Key(std::string_view key);
  std::string& out_;
  bool first_ = true;
};

}  // namespace portwatch::api
