#include "collectors/services.h"

#include <gtest/gtest.h>

namespace portwatch::collectors {
namespace {

TEST(ServiceTable, ParsesServicesFileLines) {
  const ServiceTable table = ServiceTable::Parse(
      "# comment line\n"
      "tcpmux\t\t1/tcp\t\t\t\t# TCP port service multiplexer\n"
      "http\t\t80/tcp\t\twww\t\t# WorldWideWeb HTTP\n"
      "domain\t\t53/tcp\n"
      "domain\t\t53/udp\n"
      "syslog\t\t514/udp\n");
  EXPECT_EQ(table.Find(1, "tcp"), "tcpmux");
  EXPECT_EQ(table.Find(80, "tcp"), "http");
  EXPECT_EQ(table.Find(80, "udp"), "");
  EXPECT_EQ(table.Find(53, "udp"), "domain");
  EXPECT_EQ(table.Find(514, "udp"), "syslog");
  EXPECT_EQ(table.size(), 5u);
}

TEST(ServiceTable, SkipsMalformedLinesAndKeepsTheRest) {
  const ServiceTable table = ServiceTable::Parse(
      "broken\n"
      "noport /tcp\n"
      "huge 70000/tcp\n"
      "neg -1/tcp\n"
      "odd 12x/tcp\n"
      "sctp 9/sctp\n"
      "first 7/tcp\n"
      "second 7/tcp\n"
      "last 9999/udp");  // no trailing newline
  EXPECT_EQ(table.Find(7, "tcp"), "first");
  EXPECT_EQ(table.Find(9999, "udp"), "last");
  EXPECT_EQ(table.size(), 2u);
}

TEST(ServiceTable, EmptyInputGivesAnEmptyTable) {
  EXPECT_EQ(ServiceTable::Parse("").size(), 0u);
  EXPECT_EQ(ServiceTable::Parse("\n\n# only comments\n").size(), 0u);
}

}  // namespace
}  // namespace portwatch::collectors
