#include "collectors/ports.h"

#include <gtest/gtest.h>

#include "collectors/socket.h"

namespace portwatch::collectors {
namespace {

TEST(Ports, CategoriesFollowTheIanaRanges) {
  EXPECT_EQ(CategorizePort(0), PortCategory::kWellKnown);
  EXPECT_EQ(CategorizePort(1023), PortCategory::kWellKnown);
  EXPECT_EQ(CategorizePort(1024), PortCategory::kRegistered);
  EXPECT_EQ(CategorizePort(49151), PortCategory::kRegistered);
  EXPECT_EQ(CategorizePort(49152), PortCategory::kDynamic);
  EXPECT_EQ(CategorizePort(65535), PortCategory::kDynamic);
  EXPECT_EQ(PortCategoryName(PortCategory::kDynamic), "dynamic");
}

TEST(Ports, BuiltInServicesCoverWhatUsersAskAbout) {
  struct Case {
    uint16_t port;
    Protocol protocol;
    const char* name;
  };
  const Case cases[] = {
      {80, Protocol::kTcp, "http"},         {443, Protocol::kTcp, "https"},
      {21, Protocol::kTcp, "ftp"},          {22, Protocol::kTcp, "ssh"},
      {25, Protocol::kTcp, "smtp"},         {53, Protocol::kTcp, "dns"},
      {53, Protocol::kUdp, "dns"},          {67, Protocol::kUdp, "dhcp-server"},
      {68, Protocol::kUdp, "dhcp-client"},  {110, Protocol::kTcp, "pop3"},
      {143, Protocol::kTcp, "imap"},        {161, Protocol::kUdp, "snmp"},
      {3306, Protocol::kTcp, "mysql"},      {5432, Protocol::kTcp, "postgresql"},
      {27017, Protocol::kTcp, "mongodb"},   {6379, Protocol::kTcp, "redis"},
      {25565, Protocol::kTcp, "minecraft"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ServiceName(c.port, c.protocol), c.name) << c.port;
  }
}

TEST(Ports, ServiceNamesRespectTheProtocol) {
  EXPECT_EQ(ServiceName(22, Protocol::kRaw), "");
  EXPECT_NE(ServiceName(68, Protocol::kTcp), "dhcp-client");  // the built-in entry is UDP only
  EXPECT_EQ(ServiceName(0, Protocol::kTcp), "");
}

TEST(Ports, ExposureOfLocalAddresses) {
  EXPECT_EQ(ExposureOf(*Address::Parse("0.0.0.0")), Exposure::kAll);
  EXPECT_EQ(ExposureOf(*Address::Parse("::")), Exposure::kAll);
  EXPECT_EQ(ExposureOf(*Address::Parse("127.0.0.53")), Exposure::kLoopback);
  EXPECT_EQ(ExposureOf(*Address::Parse("::1")), Exposure::kLoopback);
  EXPECT_EQ(ExposureOf(*Address::Parse("192.0.2.7")), Exposure::kAddress);
  EXPECT_EQ(ExposureOf(Address{}), Exposure::kNone);
}

TEST(Ports, ClassifiesRemoteAddresses) {
  EXPECT_EQ(ClassifyAddress(*Address::Parse("127.0.0.1")), AddressClass::kLoopback);
  for (const char* text : {"10.0.0.1", "172.16.0.1", "172.31.255.1", "192.168.1.1", "169.254.1.1",
                           "100.64.0.1", "fd00::1", "fe80::1"}) {
    EXPECT_EQ(ClassifyAddress(*Address::Parse(text)), AddressClass::kPrivate) << text;
  }
  for (const char* text : {"172.32.0.1", "8.8.8.8", "203.0.113.7", "2001:db8::1", "100.128.0.1"}) {
    EXPECT_EQ(ClassifyAddress(*Address::Parse(text)), AddressClass::kPublic) << text;
  }
  for (const char* text : {"224.0.0.251", "239.1.1.1", "255.255.255.255", "ff02::fb"}) {
    EXPECT_EQ(ClassifyAddress(*Address::Parse(text)), AddressClass::kMulticast) << text;
  }
  EXPECT_EQ(ClassifyAddress(*Address::Parse("::ffff:192.168.0.1")), AddressClass::kPrivate);
  EXPECT_EQ(ClassifyAddress(*Address::Parse("0.0.0.0")), AddressClass::kNone);
}

}  // namespace
}  // namespace portwatch::collectors
