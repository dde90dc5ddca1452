#include "collectors/cidr.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace portwatch::collectors {
namespace {

using ::testing::HasSubstr;

Address A(const char* text) { return *Address::Parse(text); }

Cidr ParseOk(const char* text) {
  Result<Cidr> cidr = Cidr::Parse(text);
  EXPECT_TRUE(cidr.ok()) << text << ": " << (cidr.ok() ? "" : cidr.error().message);
  return cidr.ok() ? *cidr : Cidr{};
}

std::string ParseError(const char* text) {
  Result<Cidr> cidr = Cidr::Parse(text);
  EXPECT_FALSE(cidr.ok()) << text << " parsed as " << (cidr.ok() ? cidr->network.ToString() : "")
                          << "/" << (cidr.ok() ? cidr->prefix : -1);
  return cidr.ok() ? std::string() : cidr.error().message;
}

TEST(Cidr, ParsesIpv4Block) {
  const Cidr cidr = ParseOk("10.0.0.0/8");
  EXPECT_EQ(cidr.network, A("10.0.0.0"));
  EXPECT_EQ(cidr.prefix, 8);
}

TEST(Cidr, ParsesIpv6Block) {
  const Cidr cidr = ParseOk("2001:db8::/32");
  EXPECT_EQ(cidr.network, A("2001:db8::"));
  EXPECT_EQ(cidr.network.family, Family::kIpv6);
  EXPECT_EQ(cidr.prefix, 32);
}

TEST(Cidr, BareAddressIsAHostBlock) {
  const Cidr v4 = ParseOk("203.0.113.7");
  EXPECT_EQ(v4.network, A("203.0.113.7"));
  EXPECT_EQ(v4.prefix, 32);
  const Cidr v6 = ParseOk("::1");
  EXPECT_EQ(v6.network, A("::1"));
  EXPECT_EQ(v6.prefix, 128);
}

TEST(Cidr, FullLengthPrefixIsAccepted) {
  EXPECT_EQ(ParseOk("203.0.113.7/32").prefix, 32);
  EXPECT_EQ(ParseOk("2001:db8::7/128").prefix, 128);
}

TEST(Cidr, PrefixZeroCoversTheWholeFamily) {
  const Cidr v4 = ParseOk("0.0.0.0/0");
  EXPECT_EQ(v4.prefix, 0);
  EXPECT_TRUE(v4.Contains(A("0.0.0.0")));
  EXPECT_TRUE(v4.Contains(A("255.255.255.255")));
  EXPECT_TRUE(v4.Contains(A("::ffff:192.0.2.1")));
  EXPECT_FALSE(v4.Contains(A("2001:db8::1")));
  EXPECT_EQ(v4.First(), A("0.0.0.0"));
  EXPECT_EQ(v4.Last(), A("255.255.255.255"));

  const Cidr v6 = ParseOk("::/0");
  EXPECT_TRUE(v6.Contains(A("2001:db8::1")));
  EXPECT_TRUE(v6.Contains(A("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")));
  EXPECT_EQ(v6.Last(), A("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
}

TEST(Cidr, HostBitsSetSuggestTheNetwork) {
  const std::string v4 = ParseError("10.0.0.1/8");
  EXPECT_THAT(v4, HasSubstr("10.0.0.1/8"));
  EXPECT_THAT(v4, HasSubstr("host bits"));
  EXPECT_THAT(v4, HasSubstr("did you mean 10.0.0.0/8"));

  const std::string v6 = ParseError("2001:db8::1/32");
  EXPECT_THAT(v6, HasSubstr("did you mean 2001:db8::/32"));

  EXPECT_THAT(ParseError("192.168.1.130/25"), HasSubstr("did you mean 192.168.1.128/25"));
}

TEST(Cidr, BadPrefixLengthsAreErrors) {
  for (const char* text :
       {"10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/", "10.0.0.0/8x", "10.0.0.0/ 8", "10.0.0.0/+8",
        "10.0.0.0/8/8", "::/129", "10.0.0.0/99999999999999999999"}) {
    const std::string message = ParseError(text);
    EXPECT_THAT(message, HasSubstr("prefix")) << text;
    EXPECT_THAT(message, HasSubstr(text)) << text;
  }
  EXPECT_THAT(ParseError("10.0.0.0/33"), HasSubstr("0 to 32"));
  EXPECT_THAT(ParseError("::/129"), HasSubstr("0 to 128"));
}

TEST(Cidr, GarbageIsAnErrorNamingTheInput) {
  for (const char* text : {"", "example.com", "10.0.0", "10.0.0.0.0/8", "[::1]", "/8", "::1%lo",
                           "10.0.0.256", " 10.0.0.0/8", "10.0.0.0 /8"}) {
    const std::string message = ParseError(text);
    EXPECT_THAT(message, HasSubstr(std::string("'") + text + "'")) << text;
  }
  EXPECT_THAT(ParseError("example.com"), HasSubstr("10.0.0.0/8"));  // shows the accepted forms
}

TEST(Cidr, ContainsIpv4) {
  const Cidr cidr = ParseOk("10.0.0.0/8");
  EXPECT_TRUE(cidr.Contains(A("10.0.0.0")));
  EXPECT_TRUE(cidr.Contains(A("10.1.2.3")));
  EXPECT_TRUE(cidr.Contains(A("10.255.255.255")));
  EXPECT_FALSE(cidr.Contains(A("9.255.255.255")));
  EXPECT_FALSE(cidr.Contains(A("11.0.0.0")));

  const Cidr host = ParseOk("203.0.113.7");
  EXPECT_TRUE(host.Contains(A("203.0.113.7")));
  EXPECT_FALSE(host.Contains(A("203.0.113.8")));
}

TEST(Cidr, Ipv4BlockContainsV4MappedIpv6Addresses) {
  const Cidr cidr = ParseOk("192.0.2.0/24");
  EXPECT_TRUE(cidr.Contains(A("::ffff:192.0.2.55")));
  EXPECT_FALSE(cidr.Contains(A("::ffff:192.0.3.55")));
  // Same low 32 bits but not v4-mapped: a different address.
  EXPECT_FALSE(cidr.Contains(A("::192.0.2.55")));
  EXPECT_FALSE(cidr.Contains(A("64:ff9b::192.0.2.55")));
}

TEST(Cidr, Ipv6BlockDoesNotContainIpv4WithTheSameLeadingBytes) {
  // 42.1.2.3 has the leading bytes 2a01:0203, but is not in 2a01::/16.
  const Cidr cidr = ParseOk("2a01::/16");
  EXPECT_TRUE(cidr.Contains(A("2a01:203::1")));
  EXPECT_FALSE(cidr.Contains(A("42.1.2.3")));
  EXPECT_FALSE(ParseOk("10.0.0.0/8").Contains(A("a00::1")));
}

TEST(Cidr, ContainsIpv6) {
  const Cidr cidr = ParseOk("2001:db8:1:2::/64");
  EXPECT_TRUE(cidr.Contains(A("2001:db8:1:2::")));
  EXPECT_TRUE(cidr.Contains(A("2001:db8:1:2:ffff:ffff:ffff:ffff")));
  EXPECT_FALSE(cidr.Contains(A("2001:db8:1:3::")));
  EXPECT_FALSE(cidr.Contains(A("2001:db8:1:1:ffff:ffff:ffff:ffff")));
}

TEST(Cidr, FirstAndLast) {
  const Cidr v4 = ParseOk("10.0.0.0/8");
  EXPECT_EQ(v4.First(), A("10.0.0.0"));
  EXPECT_EQ(v4.Last(), A("10.255.255.255"));

  const Cidr odd = ParseOk("192.168.1.128/25");
  EXPECT_EQ(odd.First(), A("192.168.1.128"));
  EXPECT_EQ(odd.Last(), A("192.168.1.255"));

  const Cidr v6 = ParseOk("2001:db8::/32");
  EXPECT_EQ(v6.First(), A("2001:db8::"));
  EXPECT_EQ(v6.Last(), A("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"));

  const Cidr nibble = ParseOk("2001:db8::/33");
  EXPECT_EQ(nibble.Last(), A("2001:db8:7fff:ffff:ffff:ffff:ffff:ffff"));

  const Cidr host = ParseOk("203.0.113.7");
  EXPECT_EQ(host.First(), host.Last());
  EXPECT_EQ(host.Last(), A("203.0.113.7"));
}

TEST(Cidr, Ipv4LastKeepsTheUnusedBytesZero) {
  // Address equality compares all 16 bytes; an IPv4 block must not spill into bytes 4..15.
  const Address last = ParseOk("0.0.0.0/0").Last();
  for (size_t i = 4; i < last.bytes.size(); ++i) EXPECT_EQ(last.bytes[i], 0) << i;
}

}  // namespace
}  // namespace portwatch::collectors
