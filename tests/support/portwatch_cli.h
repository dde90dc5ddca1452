// Running the built portwatch binary in end-to-end tests, and reading what it printed.
//
// The binary is the one this build made (PORTWATCH_BINARY, set where the library is built).
// Failures are reported non-fatally (ADD_FAILURE, EXPECT), so call these from the test's thread.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "tests/support/subprocess.h"

namespace portwatch::testing {

// Runs `portwatch args...` to completion, capturing stdout and stderr.
CommandResult Portwatch(std::vector<std::string> args);

// stdout parsed as JSON; null, and a test failure, when it is not JSON.
nlohmann::json ParseJson(const CommandResult& result);

// Expects the command to have succeeded and printed a JSON array; the array, or an empty one when
// it did not.
nlohmann::json ExpectJsonArray(const CommandResult& result);

// The lines of text, without their line ends.
std::vector<std::string> Lines(const std::string& text);

// The object for the socket with this inode in a JSON array of sockets, or null when it is not
// listed. A copy, so that a missing key reads as null instead of failing an assertion inside the
// JSON library.
nlohmann::json FindInode(const nlohmann::json& sockets, uint64_t inode);

}  // namespace portwatch::testing
