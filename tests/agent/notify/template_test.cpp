#include "agent/notify/template.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace portwatch::agent::notify {
namespace {

using store::AlertEventKind;

// An inbound SSH connection, its evidence as socket_json writes it.
Message InboundMessage() {
  store::Alert alert;
  alert.id = 7;
  alert.fingerprint = "b1946ac92492d234";
  alert.subject = "connection tcp inbound port 22 from 198.51.100.9 program=/usr/sbin/sshd";
  alert.kind = 2;
  alert.severity = 3;
  alert.title = "sshd (pid 812, user root) accepted 192.0.2.10:22 -> 198.51.100.9:50022/tcp";
  alert.reasons =
      R"([{"rule":"new-peer","severity":"medium","mitre":"T1021","reason":"198.51.100.9 never connected before"},)"
      R"({"rule":"public-peer","severity":"low","mitre":"","reason":"the peer is on the internet"}])";
  alert.count = 3;
  alert.first_seen = 1764075901123;  // 2025-11-25T13:05:01.123Z
  alert.last_seen = 1764079800000;   // 2025-11-25T14:10:00.000Z
  alert.last_evidence = R"({
    "proto":"tcp","family":"ipv4","state":"established","local_addr":"192.0.2.10",
    "local_port":22,"remote_addr":"198.51.100.9","remote_port":50022,"pid":812,"ppid":1,
    "process":"sshd","exe":"/usr/sbin/sshd","cmdline":"sshd: root@pts/0","user":"root",
    "service":"ssh","service_port":22,"port_category":"well-known","exposure":"all",
    "direction":"inbound","remote_class":"public"})";
  return BuildMessage(alert, AlertEventKind::kReopened, 99, alert.last_seen,
                      {"web-1", "https://pw.example"});
}

std::string Render(std::string_view text, const Message& message) {
  Result<Template> parsed = Template::Parse(text);
  EXPECT_TRUE(parsed.ok()) << text << ": " << (parsed.ok() ? "" : parsed.error().message);
  return parsed.ok() ? parsed->Render(message) : "<parse failed>";
}

std::string ParseError(std::string_view text) {
  Result<Template> parsed = Template::Parse(text);
  EXPECT_FALSE(parsed.ok()) << text;
  return parsed.ok() ? "<parsed>" : parsed.error().message;
}

const std::vector<std::pair<std::string, std::string>> kEveryField = {
    {"host", "web-1"},
    {"event", "reopened"},
    {"severity", "medium"},
    {"title", "sshd (pid 812, user root) accepted 192.0.2.10:22 -> 198.51.100.9:50022/tcp"},
    {"rule", "new-peer"},
    {"reason", "198.51.100.9 never connected before"},
    {"reasons", "198.51.100.9 never connected before; the peer is on the internet"},
    {"program", "sshd"},
    {"exe", "/usr/sbin/sshd"},
    {"pid", "812"},
    {"user", "root"},
    {"protocol", "tcp"},
    {"local", "192.0.2.10:22"},
    {"remote", "198.51.100.9:50022"},
    {"port", "22"},
    {"service", "ssh"},
    {"category", "well-known"},
    {"exposure", "all"},
    {"count", "3"},
    {"id", "7"},
    {"link", "https://pw.example/#/alerts/7"},
    {"first_seen", "2025-11-25T13:05:01.123Z"},
    {"last_seen", "2025-11-25T14:10:00.000Z"},
};

TEST(Template, RendersEveryField) {
  const Message message = InboundMessage();
  for (const auto& [field, expected] : kEveryField) {
    EXPECT_EQ(Render("{{" + field + "}}", message), expected) << field;
  }
}

TEST(Template, ListsExactlyTheFieldsItKnows) {
  std::string expected;
  for (const auto& [field, value] : kEveryField) {
    expected += expected.empty() ? field : ", " + field;
  }
  EXPECT_EQ(Template::FieldNames(), expected);
}

TEST(Template, SubstitutesAmongLiteralText) {
  EXPECT_EQ(
      Render("{{severity}} on {{host}}: {{program}} ({{pid}}) from {{remote}}", InboundMessage()),
      "medium on web-1: sshd (812) from 198.51.100.9:50022");
}

TEST(Template, AllowsWhitespaceInsideTheBraces) {
  EXPECT_EQ(Render("[{{ host }}] {{\tprogram\t}}", InboundMessage()), "[web-1] sshd");
}

TEST(Template, CopiesTextOutsidePlaceholdersAsItIs) {
  EXPECT_EQ(Render("a {single} brace, a }} close, { {host} }", InboundMessage()),
            "a {single} brace, a }} close, { {host} }");
}

TEST(Template, ReadsATripleBraceAsPartOfTheFieldName) {
  // Not Handlebars' unescaped form: an error says so rather than rendering something else.
  EXPECT_NE(ParseError("{{{host}}}").find("unknown field {{{host}}"), std::string::npos);
}

TEST(Template, RendersAbsentValuesAsNothing) {
  Message message = InboundMessage();
  message.pid.reset();
  message.port.reset();
  message.remote.clear();
  message.link.clear();
  EXPECT_EQ(Render("pid={{pid}} port={{port}} remote={{remote}} link={{link}}", message),
            "pid= port= remote= link=");
}

TEST(Template, SaysTestForATestMessage) {
  EXPECT_EQ(Render("{{event}} {{severity}}", TestMessage({"web-1", ""}, 1)), "test info");
}

TEST(Template, EscapesTheValuesButNotTheTemplatesOwnText) {
  Message message = InboundMessage();
  message.program = "<b>&evil";
  Result<Template> parsed = Template::Parse("<i>{{program}}</i> & {{host}}");
  ASSERT_TRUE(parsed.ok());
  const Escape brackets = [](std::string_view text) {
    std::string out;
    for (const char c : text) out += c == '<' ? std::string("[") : std::string(1, c);
    return out;
  };
  EXPECT_EQ(parsed->Render(message, brackets), "<i>[b>&evil</i> & web-1");
  EXPECT_EQ(parsed->Render(message), "<i><b>&evil</i> & web-1");
}

TEST(Template, RejectsAnUnknownFieldNamingItAndTheValidOnes) {
  const std::string error = ParseError("{{severity}} {{ prgram }}");
  EXPECT_NE(error.find("unknown field {{prgram}}"), std::string::npos) << error;
  EXPECT_NE(error.find("program"), std::string::npos) << error;
  EXPECT_NE(error.find("first_seen"), std::string::npos) << error;
}

TEST(Template, RejectsAnUnclosedPlaceholder) {
  const std::string error = ParseError("alert on {{host");
  EXPECT_NE(error.find("{{"), std::string::npos) << error;
  EXPECT_NE(error.find("not closed"), std::string::npos) << error;
  EXPECT_NE(error.find("character 10"), std::string::npos) << error;
}

TEST(Template, RejectsAnEmptyTemplateOrPlaceholder) {
  EXPECT_NE(ParseError("").find("empty"), std::string::npos);
  EXPECT_NE(ParseError("  \n ").find("empty"), std::string::npos);
  const std::string error = ParseError("{{host}} {{ }}");
  EXPECT_NE(error.find("empty field"), std::string::npos) << error;
  EXPECT_NE(error.find("host, event"), std::string::npos) << error;
}

}  // namespace
}  // namespace portwatch::agent::notify
