#include "store/keyframe.h"

#include <cstdint>

namespace portwatch::store {

std::vector<uint8_t> EncodeKeyframe(std::span<const int64_t> ids) {
  std::vector<uint8_t> bytes;
  bytes.reserve(ids.size() * 2);
  int64_t previous = 0;
  for (const int64_t id : ids) {
    auto delta = static_cast<uint64_t>(id - previous);
    previous = id;
    while (delta >= 0x80) {
      bytes.push_back(static_cast<uint8_t>(delta | 0x80));
      delta >>= 7;
    }
    bytes.push_back(static_cast<uint8_t>(delta));
  }
  return bytes;
}

std::optional<std::vector<int64_t>> DecodeKeyframe(std::span<const uint8_t> bytes) {
  std::vector<int64_t> ids;
  ids.reserve(bytes.size());
  uint64_t value = 0;
  int shift = 0;
  int64_t previous = 0;
  for (const uint8_t byte : bytes) {
    if (shift > 56) return std::nullopt;  // more than 9 bytes: not one of ours
    value |= uint64_t{byte & 0x7Fu} << shift;
    if (byte & 0x80) {
      shift += 7;
      continue;
    }
    if (value > static_cast<uint64_t>(INT64_MAX - previous)) return std::nullopt;
    previous += static_cast<int64_t>(value);
    ids.push_back(previous);
    value = 0;
    shift = 0;
  }
  if (shift != 0) return std::nullopt;  // ended inside a varint
  return ids;
}

}  // namespace portwatch::store
