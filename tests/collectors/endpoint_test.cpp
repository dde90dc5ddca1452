#include "collectors/endpoint.h"

#include <gtest/gtest.h>

namespace portwatch::collectors {
namespace {

TEST(Address, ParsesAndFormatsBothFamilies) {
  const auto v4 = Address::Parse("192.0.2.10");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->family, Family::kIpv4);
  EXPECT_EQ(v4->bytes[0], 192);
  EXPECT_EQ(v4->bytes[3], 10);
  EXPECT_EQ(v4->ToString(), "192.0.2.10");

  const auto v6 = Address::Parse("2001:db8::1");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->family, Family::kIpv6);
  EXPECT_EQ(v6->bytes[0], 0x20);
  EXPECT_EQ(v6->bytes[15], 1);
  EXPECT_EQ(v6->ToString(), "2001:db8::1");
}

TEST(Address, RejectsWhatIsNotAnAddress) {
  for (const char* text : {"", "256.1.1.1", "1.2.3", "abc", "[::1]", "::1%eth0", "1.2.3.4 "}) {
    EXPECT_FALSE(Address::Parse(text)) << text;
  }
  EXPECT_FALSE(Address::Parse(std::string(100, '1')));
}

TEST(Address, KnowsLoopbackAndUnspecified) {
  EXPECT_TRUE(Address::Parse("127.0.0.1")->IsLoopback());
  EXPECT_TRUE(Address::Parse("127.255.0.9")->IsLoopback());
  EXPECT_TRUE(Address::Parse("::1")->IsLoopback());
  EXPECT_TRUE(Address::Parse("::ffff:127.0.0.1")->IsLoopback());
  EXPECT_FALSE(Address::Parse("128.0.0.1")->IsLoopback());
  EXPECT_FALSE(Address::Parse("::2")->IsLoopback());
  EXPECT_TRUE(Address::Parse("0.0.0.0")->IsUnspecified());
  EXPECT_TRUE(Address::Parse("::")->IsUnspecified());
  EXPECT_FALSE(Address::Parse("0.0.0.1")->IsUnspecified());
}

TEST(Address, UnmapsV4MappedAddresses) {
  const Address mapped = *Address::Parse("::ffff:10.1.2.3");
  EXPECT_TRUE(mapped.IsV4Mapped());
  EXPECT_EQ(mapped.Unmapped(), *Address::Parse("10.1.2.3"));
  EXPECT_EQ(Address::Parse("10.1.2.3")->Unmapped(), *Address::Parse("10.1.2.3"));
}

TEST(Endpoint, FormatsLikeUsersExpect) {
  EXPECT_EQ((Endpoint{*Address::Parse("127.0.0.1"), 22}).ToString(), "127.0.0.1:22");
  EXPECT_EQ((Endpoint{*Address::Parse("::1"), 443}).ToString(), "[::1]:443");
  EXPECT_EQ((Endpoint{*Address::Parse("0.0.0.0"), 80}).ToString(), "*:80");
}

}  // namespace
}  // namespace portwatch::collectors
