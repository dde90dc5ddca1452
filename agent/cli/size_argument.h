// Parsing of sizes users type: "500M", "2G", "64K", "1048576" (bytes).
#pragma once

#include <cstdint>
#include <string_view>

#include "collectors/result.h"

namespace portwatch::agent {

// Bytes; binary multiples (K = 1024). "0" means no limit to the callers that accept it.
Result<uint64_t> ParseByteSize(std::string_view text);

}  // namespace portwatch::agent
