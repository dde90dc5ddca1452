#include "api/json_text.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

namespace portwatch::api {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

std::string Quote(std::string_view text) {
  std::string out;
  AppendJsonString(out, text);
  return out;
}

// The string a JSON parser reads back from AppendJsonString's output; fails the test when the
// output is not a valid JSON string.
std::string RoundTrip(std::string_view text) {
  const std::string quoted = Quote(text);
  try {
    const nlohmann::json parsed = nlohmann::json::parse(quoted);
    EXPECT_TRUE(parsed.is_string()) << quoted;
    return parsed.is_string() ? parsed.get<std::string>() : std::string();
  } catch (const nlohmann::json::exception& error) {
    ADD_FAILURE() << "not valid JSON: " << quoted << ": " << error.what();
    return {};
  }
}

// Replaces every run of U+FFFD with a single one: how many replacement characters stand for a
// broken sequence is the encoder's choice (one per byte, or one per maximal subpart as Unicode
// recommends), as long as none of the original bytes survive.
std::string CollapseReplacements(std::string text) {
  const std::string twice = std::string(kReplacement) + std::string(kReplacement);
  for (size_t at = text.find(twice); at != std::string::npos; at = text.find(twice, at)) {
    text.erase(at, kReplacement.size());
  }
  return text;
}

TEST(AppendJsonString, EscapesQuotesAndBackslashes) {
  EXPECT_EQ(Quote(R"(say "hi")"), R"("say \"hi\"")");
  EXPECT_EQ(Quote(R"(C:\temp\)"), R"("C:\\temp\\")");
  EXPECT_EQ(RoundTrip(R"(a"b\c"\)"), R"(a"b\c"\)");
}

TEST(AppendJsonString, EscapesNewlinesAndControlCharacters) {
  EXPECT_EQ(Quote("a\nb\rc\td"), R"("a\nb\rc\td")");
  EXPECT_EQ(Quote("\x01"), R"("\u0001")");
  EXPECT_EQ(Quote("\x1f"), R"("\u001f")");
  EXPECT_EQ(Quote(std::string_view("x\0y", 3)), R"("x\u0000y")");
  for (int c = 0; c < 0x20; ++c) {
    const std::string text(1, static_cast<char>(c));
    const std::string quoted = Quote(text);
    for (char byte : quoted) {
      EXPECT_GE(static_cast<uint8_t>(byte), 0x20) << "raw control byte for " << c;
    }
    EXPECT_EQ(RoundTrip(text), text) << c;
  }
}

TEST(AppendJsonString, KeepsPlainTextAndAppendsToTheBuffer) {
  std::string out = "prefix:";
  AppendJsonString(out, "nginx: worker process");
  EXPECT_EQ(out, R"(prefix:"nginx: worker process")");
  EXPECT_EQ(Quote(""), R"("")");
  EXPECT_EQ(Quote("/ \x7f"), "\"/ \x7f\"");
}

TEST(AppendJsonString, KeepsValidMultibyteUtf8) {
  const std::string texts[] = {
      "caf\xC3\xA9",                             // 2 bytes: é
      "\xE2\x82\xAC 5",                          // 3 bytes: €
      "\xF0\x9F\x90\x8D python",                 // 4 bytes: U+1F40D
      "\xED\x9F\xBF",                            // U+D7FF, just below the surrogates
      "\xEE\x80\x80",                            // U+E000, just above them
      "\xF4\x8F\xBF\xBF",                        // U+10FFFF, the last code point
      "\xC2\x80 \xE0\xA0\x80 \xF0\x90\x80\x80",  // the shortest form of each length
  };
  for (const std::string& text : texts) {
    EXPECT_EQ(Quote(text), "\"" + text + "\"");
    EXPECT_EQ(RoundTrip(text), text);
  }
}

TEST(AppendJsonString, ReplacesInvalidUtf8WithReplacementCharacter) {
  const std::string r(kReplacement);
  struct Case {
    const char* name;
    std::string text;
    std::string expected;
  };
  const Case cases[] = {
      {"lone 0xff",
       "a\xFF"
       "b",
       "a" + r + "b"},
      {"lone continuation byte",
       "a\x80"
       "b",
       "a" + r + "b"},
      {"overlong NUL",
       "a\xC0\x80"
       "b",
       "a" + r + "b"},
      {"overlong slash", "\xE0\x80\xAF", r},
      {"surrogate",
       "a\xED\xA0\x80"
       "b",
       "a" + r + "b"},
      {"beyond U+10FFFF", "\xF4\x90\x80\x80", r},
      {"truncated at the end", "euro \xE2\x82", "euro " + r},
      {"truncated before ASCII",
       "\xE2\x82"
       "x",
       r + "x"},
      {"truncated before valid UTF-8", "\xF0\x9F\x90\xC3\xA9", r + "\xC3\xA9"},
  };
  for (const Case& c : cases) {
    const std::string quoted = Quote(c.text);
    EXPECT_EQ(quoted.find('\xFF'), std::string::npos) << c.name;
    const std::string parsed = RoundTrip(c.text);
    EXPECT_NE(parsed.find(kReplacement), std::string::npos) << c.name;
    EXPECT_EQ(CollapseReplacements(parsed), c.expected) << c.name;
  }
  EXPECT_EQ(Quote("a\xFF"
                  "b"),
            "\"a" + r + "b\"");
}

// Any bytes at all, as a process name or command line may hold, give a JSON string that parses;
// valid UTF-8 comes back unchanged.
TEST(AppendJsonString, AnyBytesGiveValidJson) {
  std::mt19937 random(20240601);
  std::uniform_int_distribution<int> length(0, 24);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int round = 0; round < 20000; ++round) {
    std::string text(static_cast<size_t>(length(random)), '\0');
    for (char& c : text) c = static_cast<char>(byte(random));
    const std::string quoted = Quote(text);
    nlohmann::json parsed;
    ASSERT_NO_THROW(parsed = nlohmann::json::parse(quoted)) << quoted;
    ASSERT_TRUE(parsed.is_string());
    const std::string back = parsed.get<std::string>();
    if (back.find(kReplacement) == std::string::npos) {
      EXPECT_EQ(back, text) << quoted;  // nothing replaced: the text was valid and is kept
    }
  }
}

TEST(JsonObjectWriter, WritesEveryKindOfField) {
  std::string out;
  {
    JsonObjectWriter json(out);
    json.String("name", "sshd \"main\"\n");
    json.StringOrNull("empty", "");
    json.StringOrNull("exe", "/usr/sbin/sshd");
    json.Number("port", int64_t{22});
    json.Number("negative", int64_t{-5});
    json.Number("largest", INT64_MAX);
    json.Number("set", std::optional<int64_t>(7));
    json.Number("unset", std::optional<int64_t>());
    json.Bool("yes", true);
    json.Bool("no", false);
    json.Null("nothing");
    json.Raw("list", "[1,2]");
  }
  const nlohmann::json parsed = nlohmann::json::parse(out);
  const nlohmann::json expected = {
      {"name", "sshd \"main\"\n"},
      {"empty", nullptr},
      {"exe", "/usr/sbin/sshd"},
      {"port", 22},
      {"negative", -5},
      {"largest", INT64_MAX},
      {"set", 7},
      {"unset", nullptr},
      {"yes", true},
      {"no", false},
      {"nothing", nullptr},
      {"list", {1, 2}},
  };
  EXPECT_EQ(parsed, expected) << out;
}

TEST(JsonObjectWriter, WritesFieldsInOrderWithoutSpaces) {
  std::string out = "[";
  {
    JsonObjectWriter json(out);
    json.Number("a", int64_t{1});
    json.Null("b");
  }
  out += ',';
  { JsonObjectWriter empty(out); }
  out += ']';
  EXPECT_EQ(out, R"([{"a":1,"b":null},{}])");
  EXPECT_EQ(nlohmann::json::parse(out), nlohmann::json::parse(R"([{"a":1,"b":null},{}])"));
}

TEST(JsonObjectWriter, ReplacesInvalidUtf8InValues) {
  std::string out;
  {
    JsonObjectWriter json(out);
    json.String("cmdline", "python3 \xFF\xFE script.py");
    json.StringOrNull("exe", "/opt/\xC0\x80/bin");
  }
  nlohmann::json parsed;
  ASSERT_NO_THROW(parsed = nlohmann::json::parse(out)) << out;
  const std::string r(kReplacement);
  EXPECT_EQ(CollapseReplacements(parsed["cmdline"].get<std::string>()),
            "python3 " + r + " script.py");
  EXPECT_EQ(CollapseReplacements(parsed["exe"].get<std::string>()), "/opt/" + r + "/bin");
}

}  // namespace
}  // namespace portwatch::api
