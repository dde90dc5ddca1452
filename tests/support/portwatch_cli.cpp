#include "tests/support/portwatch_cli.h"

#include <gtest/gtest.h>

#include <sstream>

namespace portwatch::testing {

using nlohmann::json;

CommandResult Portwatch(std::vector<std::string> args) {
  args.insert(args.begin(), PORTWATCH_BINARY);
  return RunCommand(args);
}

json ParseJson(const CommandResult& result) {
  try {
    return json::parse(result.out);
  } catch (const json::exception& error) {
    ADD_FAILURE() << "stdout is not JSON: " << error.what() << "\n" << Describe(result);
    return json();
  }
}

json ExpectJsonArray(const CommandResult& result) {
  EXPECT_EQ(result.exit_code, 0) << Describe(result);
  json parsed = ParseJson(result);
  EXPECT_TRUE(parsed.is_array()) << Describe(result);
  return parsed.is_array() ? parsed : json::array();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

json FindInode(const json& sockets, uint64_t inode) {
  for (const json& object : sockets) {
    if (object.value("inode", uint64_t{0}) == inode) return object;
  }
  return json();
}

}  // namespace portwatch::testing
