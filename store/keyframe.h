// Keyframe encoding: a sorted set of socket row ids as delta-encoded LEB128 varints.
//
// 10k open sockets with nearby ids take about 10-20 KB. Pure; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace portwatch::store {

// ids must be sorted ascending and positive.
std::vector<uint8_t> EncodeKeyframe(std::span<const int64_t> ids);
// nullopt when the bytes are not a valid encoding (truncated varint, overflow).
std::optional<std::vector<int64_t>> DecodeKeyframe(std::span<const uint8_t> bytes);

}  // namespace portwatch::store
