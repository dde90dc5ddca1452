#include "collectors/untrusted_text.h"

#include <gtest/gtest.h>

#include <string>

namespace portwatch::collectors {
namespace {

TEST(UntrustedText, LeavesPlainTextAlone) {
  EXPECT_EQ(EscapeUntrusted("/usr/sbin/sshd -D"), "/usr/sbin/sshd -D");
  EXPECT_EQ(EscapeUntrusted(""), "");
  // Letters of any script are shown as they are: only controls and formatting are escaped.
  EXPECT_EQ(EscapeUntrusted("\xD8\xAE\xD8\xA7\xD8\xAF\xD9\x85 caf\xC3\xA9"),
            "\xD8\xAE\xD8\xA7\xD8\xAF\xD9\x85 caf\xC3\xA9");
}

TEST(UntrustedText, NewlinesAndTerminalControlsBecomeVisibleEscapes) {
  EXPECT_EQ(EscapeUntrusted("a\nb"), "a\\nb");
  EXPECT_EQ(EscapeUntrusted("a\r\tb"), "a\\r\\tb");
  EXPECT_EQ(EscapeUntrusted("\x1b[2J\x07"), "\\x1b[2J\\x07");
  EXPECT_EQ(EscapeUntrusted(std::string("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(EscapeUntrusted("\x7f"), "\\x7f");
  EXPECT_EQ(EscapeUntrusted("\xC2\x9B"
                            "31m"),
            "\\u009b31m");  // C1 CSI, as UTF-8
}

TEST(UntrustedText, BidirectionalFormattingIsEscapedSoTextReadsInOrder) {
  // "/tmp/<RLO>gpj.exe" shows as "/tmp/exe.jpg" raw.
  EXPECT_EQ(EscapeUntrusted("/tmp/\xE2\x80\xAEgpj.exe"), "/tmp/\\u202egpj.exe");
  EXPECT_EQ(EscapeUntrusted("\xE2\x81\xA6x\xE2\x81\xA9"), "\\u2066x\\u2069");  // LRI, PDI
  EXPECT_EQ(EscapeUntrusted("\xE2\x80\x8F"), "\\u200f");                       // RLM
  EXPECT_EQ(EscapeUntrusted("\xD8\x9C"), "\\u061c");                           // ALM
  EXPECT_EQ(EscapeUntrusted("a\xE2\x80\xA8"
                            "b"),
            "a\\u2028b");  // line separator
}

TEST(UntrustedText, BytesThatAreNotUtf8AreEscapedOneByOne) {
  EXPECT_EQ(EscapeUntrusted("a\xff"
                            "b"),
            "a\\xffb");
  EXPECT_EQ(EscapeUntrusted("\xE2\x80"), "\\xe2\\x80");           // cut short
  EXPECT_EQ(EscapeUntrusted("\xC0\xAF"), "\\xc0\\xaf");           // overlong '/'
  EXPECT_EQ(EscapeUntrusted("\xED\xA0\x80"), "\\xed\\xa0\\x80");  // a surrogate
}

TEST(UntrustedText, ABackslashIsDoubledSoAnEscapeIsNeverAmbiguous) {
  // A name that spells an escape is not mistaken for the character it names.
  EXPECT_EQ(EscapeUntrusted("\\x1b"), "\\\\x1b");
  EXPECT_NE(EscapeUntrusted("\\x1b"), EscapeUntrusted("\x1b"));
}

TEST(UntrustedText, AppendsAfterWhatIsAlreadyThere) {
  std::string out = "name=";
  AppendEscapedUntrusted(out, "x\ny");
  EXPECT_EQ(out, "name=x\\ny");
}

TEST(UntrustedText, ReplaceUntrustedPutsTheReplacementCharacterForEachBadOne) {
  EXPECT_EQ(ReplaceUntrusted("a\nb\xE2\x80\xAE"
                             "c\xff"),
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD"
            "c\xEF\xBF\xBD");
  EXPECT_EQ(ReplaceUntrusted("plain"), "plain");
}

TEST(UntrustedText, DecodesEveryLengthAndRejectsWhatIsNotUtf8) {
  EXPECT_EQ(DecodeUtf8("A", 0).code_point, U'A');
  const Utf8Char euro = DecodeUtf8("\xE2\x82\xAC", 0);
  EXPECT_TRUE(euro.valid);
  EXPECT_EQ(euro.code_point, 0x20AC);
  EXPECT_EQ(euro.size, 3u);
  const Utf8Char emoji = DecodeUtf8("\xF0\x9F\x98\x80", 0);
  EXPECT_EQ(emoji.code_point, 0x1F600);
  EXPECT_EQ(emoji.size, 4u);
  EXPECT_FALSE(DecodeUtf8("\xF4\x90\x80\x80", 0).valid);  // above U+10FFFF
  EXPECT_EQ(DecodeUtf8("\x80", 0).size, 1u);
}

}  // namespace
}  // namespace portwatch::collectors
