// The API token: 32 random bytes as 64 hex digits in a file only the agent's user can read.
//
// The agent creates it on first start (LoadOrCreateToken); `portwatch token` and the CLI's API
// calls read it (ReadToken). A file readable by other users is refused rather than trusted.
// Thread-safe (no state).
#pragma once

#include <string>
#include <string_view>

#include "collectors/result.h"

namespace portwatch::api {

// Reads the token at `path`, creating it (mode 0600, atomically) when there is none.
Result<std::string> LoadOrCreateToken(const std::string& path);
Result<std::string> ReadToken(const std::string& path);

// Compares in time that depends only on the lengths, so a wrong guess says nothing of the right
// one.
bool TokensEqual(std::string_view given, std::string_view expected);

// The token from an "Authorization: Bearer TOKEN" header value; empty when it is not one.
std::string_view BearerToken(std::string_view authorization);

}  // namespace portwatch::api
