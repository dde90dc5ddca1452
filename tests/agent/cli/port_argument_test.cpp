#include "agent/cli/port_argument.h"

#include <gtest/gtest.h>

namespace portwatch::agent {
namespace {

TEST(PortArgument, AcceptsNumbersAndProtocols) {
  Result<PortArgument> plain = ParsePortArgument("22", true);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->port, 22);
  EXPECT_FALSE(plain->protocol);

  Result<PortArgument> udp = ParsePortArgument("53/udp", true);
  ASSERT_TRUE(udp.ok());
  EXPECT_EQ(udp->port, 53);
  EXPECT_EQ(udp->protocol, collectors::Protocol::kUdp);

  EXPECT_EQ(ParsePortArgument("65535/tcp", true)->protocol, collectors::Protocol::kTcp);
  EXPECT_EQ(ParsePortArgument("0", false)->port, 0);
}

TEST(PortArgument, RejectsBadInputWithAMessageNamingIt) {
  struct Case {
    const char* text;
    const char* says;
  };
  const Case cases[] = {
      {"70000", "out of range"},
      {"99999999999999999999", "out of range"},
      {"abc", "not a port number"},
      {"-1", "not a port number"},
      {"", "missing port"},
      {"22x", "not a port number"},
      {"22/sctp", "unknown protocol"},
      {"/tcp", "missing port"},
      {" 22", "not a port number"},
  };
  for (const Case& c : cases) {
    Result<PortArgument> result = ParsePortArgument(c.text, true);
    ASSERT_FALSE(result.ok()) << c.text;
    EXPECT_NE(result.error().message.find(c.says), std::string::npos)
        << c.text << ": " << result.error().message;
    EXPECT_EQ(result.error().message.find('\n'), std::string::npos);
  }
  EXPECT_FALSE(ParsePortArgument("22/tcp", false).ok());
}

}  // namespace
}  // namespace portwatch::agent
