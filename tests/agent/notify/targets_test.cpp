// Each target's request checked against the shape its service documents: fields, types, limits,
// colours, links, resolved events and hostile values.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "agent/notify/target.h"
#include "agent/notify/targets.h"
#include "tests/agent/notify/sample_alerts.h"

namespace portwatch::agent::notify {
namespace {

using testing::kFirstSeen;
using testing::kLastSeen;
using testing::kListenerEvidence;
using testing::ListenerAlert;

using nlohmann::json;
using store::AlertEventKind;

constexpr const char* kSecretUrl = "https://hooks.example/services/T0/B0/s3cr3tT0ken";

constexpr const char* kHeadline =
    "[HIGH] opened on web-1: nc (pid 4242, user root) listens on 0.0.0.0:31337/tcp";

Message Build(const store::Alert& alert, const std::string& dashboard = "https://pw.example/",
              AlertEventKind event = AlertEventKind::kOpened) {
  return BuildMessage(alert, event, 99, kLastSeen, {"web-1", dashboard});
}

Message Listener(const std::string& dashboard = "https://pw.example/") {
  return Build(ListenerAlert(), dashboard);
}

Message Resolved() {
  store::Alert alert = ListenerAlert();
  alert.status = store::AlertStatus::kResolved;
  alert.resolved_at = kLastSeen + 5000;  // 2025-11-25T14:10:05.000Z
  return BuildMessage(alert, AlertEventKind::kResolved, 100, kLastSeen + 5000,
                      {"web-1", "https://pw.example/"});
}

// The listener at another severity (1 info ... 5 critical).
Message AtSeverity(int severity) {
  store::Alert alert = ListenerAlert();
  alert.severity = severity;
  return Build(alert);
}

// The listener owned by a hostile program, with `name` in its evidence and title.
Message Hostile(const std::string& name) {
  store::Alert alert = ListenerAlert();
  json evidence = json::parse(kListenerEvidence);
  evidence["process"] = name;
  evidence["exe"] = "/tmp/" + name;
  alert.last_evidence = evidence.dump();
  alert.title = name + " (pid 4242, user root) listens on 0.0.0.0:31337/tcp";
  return Build(alert);
}

// "ab€𝄞" repeated to about 10 kB: one, two, three and four UTF-8 bytes, 𝄞 taking two UTF-16 units.
std::string Long() {
  std::string text;
  while (text.size() < 10'000) text += "ab\xE2\x82\xAC\xF0\x9D\x84\x9E";
  return text;
}

// The listener with 10 kB of title, reason, rule, program, path, user, service and cmdline:
// together more than any receiver takes.
Message Huge() {
  store::Alert alert = ListenerAlert();
  json evidence = json::parse(kListenerEvidence);
  evidence["process"] = Long();
  evidence["exe"] = "/opt/" + Long();
  evidence["user"] = Long();
  evidence["service"] = Long();
  evidence["cmdline"] = Long();
  alert.last_evidence = evidence.dump();
  alert.title = Long();
  json reasons = json::parse(alert.reasons);
  reasons[0]["reason"] = Long();
  reasons[0]["rule"] = Long();
  alert.reasons = reasons.dump();
  return Build(alert);
}

// UTF-16 units, counted independently of the code under test.
size_t Units(std::string_view text) {
  size_t units = 0;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte & 0xc0) != 0x80) ++units;  // a lead byte starts a character
    if (byte >= 0xf0) ++units;           // four bytes: a surrogate pair
  }
  return units;
}

constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";

TargetConfig Config(const std::string& type) {
  TargetConfig config;
  config.name = "ops";
  config.type = type;
  config.source = "portwatch.yaml:31";
  if (type == "telegram") {
    config.bot_token = "123456:ABC-def_ghi";
    config.chat_id = "-1001234567890";
  } else {
    config.url = kSecretUrl;
  }
  return config;
}

std::unique_ptr<Target> Make(TargetConfig config) {
  Result<std::unique_ptr<Target>> made = MakeTarget(std::move(config));
  if (!made.ok()) {
    ADD_FAILURE() << made.error().message;
    return nullptr;
  }
  return std::move(*made);
}

std::unique_ptr<Target> Make(const std::string& type) { return Make(Config(type)); }

std::unique_ptr<Target> WithTemplate(const std::string& type, const std::string& text) {
  TargetConfig config = Config(type);
  config.template_text = text;
  return Make(std::move(config));
}

json Body(const HttpRequest& request) {
  json body = json::parse(request.body, nullptr, false);
  EXPECT_FALSE(body.is_discarded()) << request.body;
  return body;
}

std::string Header(const HttpRequest& request, const std::string& name) {
  for (const auto& [key, value] : request.headers) {
    if (key == name) return value;
  }
  return "<absent>";
}

// The colour family of an RGB value, by hue: what a reader sees, not an exact shade.
std::string Hue(uint32_t rgb) {
  const double r = (rgb >> 16) & 0xff;
  const double g = (rgb >> 8) & 0xff;
  const double b = rgb & 0xff;
  const double high = std::max({r, g, b});
  const double low = std::min({r, g, b});
  if (high - low < 0.2 * high) return "grey";
  double hue = 0;
  if (high == r) {
    hue = 60 * std::fmod((g - b) / (high - low) + 6, 6);
  } else if (high == g) {
    hue = 60 * ((b - r) / (high - low) + 2);
  } else {
    hue = 60 * ((r - g) / (high - low) + 4);
  }
  if (hue < 15 || hue >= 345) return "red";
  if (hue < 40) return "orange";
  if (hue < 65) return "yellow";
  if (hue < 170) return "green";
  if (hue < 260) return "blue";
  return "other";
}

std::string Hue(const std::string& hex) {
  EXPECT_EQ(hex.size(), 7u) << hex;
  EXPECT_EQ(hex[0], '#') << hex;
  return Hue(static_cast<uint32_t>(std::stoul(hex.substr(1), nullptr, 16)));
}

// The expected colour family for severities 1 (info) to 5 (critical).
const std::vector<std::string> kSeverityHues = {"grey", "blue", "yellow", "orange", "red"};

// ---------------------------------------------------------------------------------------------
// MakeTarget

std::string MakeError(TargetConfig config) {
  Result<std::unique_ptr<Target>> made = MakeTarget(std::move(config));
  EXPECT_FALSE(made.ok());
  const std::string message = made.ok() ? "<made>" : made.error().message;
  EXPECT_EQ(message.find("s3cr3t"), std::string::npos) << "the error shows a secret: " << message;
  EXPECT_EQ(message.find("hooks.example"), std::string::npos) << "the error shows the URL";
  EXPECT_EQ(message.find("ABC-def"), std::string::npos) << "the error shows the token";
  return message;
}

TEST(Target, MakesEveryTypeItLists) {
  const std::string names(TargetTypeNames());
  EXPECT_EQ(names, "slack, discord, teams, mattermost, telegram, webhook, alertmanager");
  for (const std::string type :
       {"slack", "discord", "teams", "mattermost", "telegram", "webhook", "alertmanager"}) {
    const std::unique_ptr<Target> target = Make(type);
    ASSERT_NE(target, nullptr) << type;
    EXPECT_EQ(target->config().type, type);
    EXPECT_FALSE(target->Render(Listener()).body.empty()) << type;
  }
}

TEST(Target, RejectsAnUnknownTypeListingTheKnownOnes) {
  TargetConfig config = Config("slak");
  const std::string error = MakeError(config);
  EXPECT_NE(error.find("target 'ops': unknown type 'slak'; use one of slack, discord"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("alertmanager"), std::string::npos) << error;
  config.type = "";
  EXPECT_NE(MakeError(config).find("target 'ops'"), std::string::npos);
}

TEST(Target, RejectsATargetWithoutAName) {
  TargetConfig config = Config("slack");
  config.name = "";
  EXPECT_EQ(MakeError(config), "a notification target has no name; set name");
}

TEST(Target, RequiresAUrlForEveryTypeButTelegram) {
  for (const std::string type :
       {"slack", "discord", "teams", "mattermost", "webhook", "alertmanager"}) {
    TargetConfig config = Config(type);
    config.url = "";
    EXPECT_EQ(MakeError(config), "target 'ops': no URL; set url, url_file or url_env") << type;
  }
}

TEST(Target, RejectsAUrlThatIsNotHttpWithoutShowingIt) {
  for (const std::string url : {"ftp://hooks.example/s3cr3t", "hooks.example/s3cr3t",
                                "javascript:s3cr3t", "https://", "HTTPS-hooks.example/s3cr3t"}) {
    TargetConfig config = Config("slack");
    config.url = url;
    const std::string error = MakeError(config);
    EXPECT_NE(error.find("target 'ops': the URL must start with https:// or http://"),
              std::string::npos)
        << error;
  }
}

TEST(Target, TelegramNeedsATokenAndAChat) {
  TargetConfig config = Config("telegram");
  config.bot_token = "";
  EXPECT_NE(MakeError(config).find("set bot_token_file or bot_token_env"), std::string::npos);
  config = Config("telegram");
  config.bot_token = "123456:ABC-def_ghi\n";  // read from a file with its newline
  EXPECT_NE(MakeError(config).find("bot token"), std::string::npos);
  config = Config("telegram");
  config.chat_id = "";
  EXPECT_NE(MakeError(config).find("set chat_id"), std::string::npos);
}

TEST(Target, RejectsABadTemplateNamingTheTarget) {
  TargetConfig config = Config("discord");
  config.template_text = "{{severity}} {{prgram}}";
  const std::string error = MakeError(config);
  EXPECT_EQ(error.rfind("target 'ops': template: unknown field {{prgram}}", 0), 0u) << error;
  EXPECT_NE(error.find("program"), std::string::npos) << error;
  config.template_text = "{{host";
  EXPECT_EQ(MakeError(config).rfind("target 'ops': template: ", 0), 0u);
}

TEST(Target, OnlyAlertmanagerResendsActiveAlerts) {
  const std::vector<Message> active = {Listener()};
  for (const std::string type :
       {"slack", "discord", "teams", "mattermost", "telegram", "webhook"}) {
    const std::unique_ptr<Target> target = Make(type);
    ASSERT_NE(target, nullptr);
    EXPECT_EQ(target->resend_every().count(), 0) << type;
    EXPECT_EQ(target->RenderActive(active).url, "") << type;
  }
}

TEST(TargetText, TruncatesCountingUtf16Units) {
  EXPECT_EQ(Truncate("abcd", 4), "abcd");
  // U+1D11E takes two units: with one left for the ellipsis it does not fit.
  EXPECT_EQ(Truncate("ab\xF0\x9D\x84\x9E"
                     "cd",
                     4),
            "ab\xE2\x80\xA6");
  EXPECT_EQ(Truncate("ab\xF0\x9D\x84\x9E"
                     "cd",
                     5),
            "ab\xF0\x9D\x84\x9E\xE2\x80\xA6");
  EXPECT_EQ(Utf16Length("\xE2\x82\xAC\xF0\x9D\x84\x9E"), 3u);
}

TEST(TargetText, NeverCutsInsideAnEscape) {
  EXPECT_EQ(EscapeWithin("a*b", 5, EscapeMarkdown), "a\\*b");
  EXPECT_EQ(EscapeWithin("a*b*c", 5, EscapeMarkdown), "a\\*b\xE2\x80\xA6");
  EXPECT_EQ(EscapeWithin("a*b*c", 3, EscapeMarkdown), "a\xE2\x80\xA6");
}

// ---------------------------------------------------------------------------------------------
// Slack

TEST(Slack, PostsBlocksWithTheHeadlineAndAColouredAttachment) {
  const HttpRequest request = Make("slack")->Render(Listener());
  EXPECT_EQ(request.url, kSecretUrl);
  EXPECT_EQ(request.content_type, "application/json");
  const json body = Body(request);
  EXPECT_EQ(body.at("text"), kHeadline);
  ASSERT_EQ(body.at("blocks").size(), 1u);
  const json& section = body["blocks"][0];
  EXPECT_EQ(section.at("type"), "section");
  EXPECT_EQ(section.at("text").at("type"), "mrkdwn");
  EXPECT_EQ(section["text"].at("text"), std::string("*") + kHeadline + "*");
  ASSERT_EQ(body.at("attachments").size(), 1u);
  EXPECT_EQ(Hue(body["attachments"][0].at("color").get<std::string>()), "orange");
}

TEST(Slack, ShowsEveryFactAsAFieldAtMostTenPerSection) {
  const json body = Body(Make("slack")->Render(Listener()));
  std::vector<std::string> fields;
  for (const json& block : body["attachments"][0].at("blocks")) {
    if (block.at("type") != "section") continue;
    EXPECT_LE(block.at("fields").size(), 10u);
    for (const json& field : block["fields"]) {
      EXPECT_EQ(field.at("type"), "mrkdwn");
      fields.push_back(field.at("text"));
    }
  }
  const std::vector<std::string> expected = {
      "*Host*\nweb-1",
      "*Rule*\nbackdoor-port (T1571)",
      "*Severity*\nhigh",
      "*Program*\nnc (/tmp/nc)",
      "*PID*\n4242",
      "*User*\nroot",
      "*Local*\n0.0.0.0:31337",
      "*Port*\n31337/tcp, registered",
      "*Exposure*\nall interfaces",
      "*Seen*\n3 times",
      "*Reasons*\n31337 is a known backdoor port; a new listener not in the baseline",
  };
  EXPECT_EQ(fields, expected);
}

TEST(Slack, LinksToTheDashboardOnlyWithAUrl) {
  const json linked = Body(Make("slack")->Render(Listener()));
  const json& last = linked["attachments"][0]["blocks"].back();
  EXPECT_EQ(last.at("type"), "context");
  EXPECT_EQ(last.at("elements")[0].at("text"), "<https://pw.example/#/alerts/7|Open in portwatch>");

  const HttpRequest unlinked = Make("slack")->Render(Listener(""));
  EXPECT_EQ(unlinked.body.find("context"), std::string::npos) << unlinked.body;
  EXPECT_EQ(unlinked.body.find("#/alerts"), std::string::npos) << unlinked.body;
}

TEST(Slack, ColoursBySeverityAndGreenWhenResolved) {
  for (int severity = 1; severity <= 5; ++severity) {
    const json body = Body(Make("slack")->Render(AtSeverity(severity)));
    EXPECT_EQ(Hue(body["attachments"][0].at("color").get<std::string>()),
              kSeverityHues[static_cast<size_t>(severity - 1)])
        << severity;
  }
  const json resolved = Body(Make("slack")->Render(Resolved()));
  EXPECT_EQ(Hue(resolved["attachments"][0].at("color").get<std::string>()), "green");
  EXPECT_EQ(resolved.at("text").get<std::string>().rfind("[HIGH] resolved on web-1", 0), 0u);
}

TEST(Slack, EscapesHostileNames) {
  for (const std::string name : {"<b>&evil", "<!channel>", "<https://evil.example|x>"}) {
    const HttpRequest request = Make("slack")->Render(Hostile(name));
    EXPECT_EQ(request.body.find(name), std::string::npos) << request.body;
    const json body = Body(request);
    const std::string text = body.at("text");
    EXPECT_NE(text.find("&lt;"), std::string::npos) << text;
  }
  const json body = Body(Make("slack")->Render(Hostile("<b>&evil")));
  EXPECT_NE(body.at("text").get<std::string>().find("&lt;b&gt;&amp;evil"), std::string::npos);
}

TEST(Slack, CutsLongTextsToBlockKitsLimits) {
  const HttpRequest request = Make("slack")->Render(Huge());
  EXPECT_EQ(request.body.find(kReplacementChar), std::string::npos) << "a character was split";
  const json body = Body(request);
  EXPECT_LE(Units(body.at("text").get<std::string>()), 3000u);
  EXPECT_LE(Units(body["blocks"][0]["text"].at("text").get<std::string>()), 3000u);
  size_t fields = 0;
  for (const json& block : body["attachments"][0]["blocks"]) {
    for (const json& field : block.value("fields", json::array())) {
      EXPECT_LE(Units(field.at("text").get<std::string>()), 2000u);
      ++fields;
    }
  }
  EXPECT_EQ(fields, 11u);
}

TEST(Slack, TemplateReplacesTheTextWithEscapedValues) {
  const json body = Body(WithTemplate("slack", "*{{program}}* on {{host}} <{{link}}|open>")
                             ->Render(Hostile("<b>&evil")));
  const std::string expected = "*&lt;b&gt;&amp;evil* on web-1 <https://pw.example/#/alerts/7|open>";
  EXPECT_EQ(body.at("text"), expected);
  EXPECT_EQ(body["blocks"][0]["text"].at("text"), expected);
}

// ---------------------------------------------------------------------------------------------
// Discord

TEST(Discord, PostsTheHeadlineAndOneEmbed) {
  const HttpRequest request = Make("discord")->Render(Listener());
  EXPECT_EQ(request.url, kSecretUrl);
  const json body = Body(request);
  EXPECT_EQ(body.at("username"), "portwatch");
  // Markdown escaped: Discord shows it without the backslashes.
  EXPECT_EQ(body.at("content"),
            "\\[HIGH\\] opened on web-1: nc \\(pid 4242, user root\\) listens on "
            "0.0.0.0:31337/tcp");
  EXPECT_EQ(body.at("allowed_mentions"), json({{"parse", json::array()}}));
  ASSERT_EQ(body.at("embeds").size(), 1u);
  const json& embed = body["embeds"][0];
  EXPECT_EQ(embed.at("title"), "nc (pid 4242, user root) listens on 0.0.0.0:31337/tcp");
  EXPECT_EQ(embed.at("description"),
            "31337 is a known backdoor port\na new listener not in the baseline");
  ASSERT_TRUE(embed.at("color").is_number_integer());
  EXPECT_EQ(Hue(embed["color"].get<uint32_t>()), "orange");
  EXPECT_EQ(embed.at("timestamp"), "2025-11-25T14:10:00.000Z");
  EXPECT_EQ(embed.at("footer").at("text"), "portwatch on web-1");
  EXPECT_EQ(embed.at("url"), "https://pw.example/#/alerts/7");
  std::vector<std::string> names;
  for (const json& field : embed.at("fields")) {
    EXPECT_EQ(field.at("inline"), true);
    EXPECT_TRUE(field.at("value").is_string());
    EXPECT_FALSE(field["value"].get<std::string>().empty());
    names.push_back(field.at("name"));
  }
  const std::vector<std::string> expected = {"Rule",  "Severity", "Program",  "PID", "User",
                                             "Local", "Port",     "Exposure", "Seen"};
  EXPECT_EQ(names, expected);
}

TEST(Discord, LinksOnlyWithADashboardUrl) {
  const json body = Body(Make("discord")->Render(Listener("")));
  EXPECT_FALSE(body["embeds"][0].contains("url"));
}

TEST(Discord, ColoursBySeverityAndGreenWhenResolved) {
  for (int severity = 1; severity <= 5; ++severity) {
    const json body = Body(Make("discord")->Render(AtSeverity(severity)));
    EXPECT_EQ(Hue(body["embeds"][0].at("color").get<uint32_t>()),
              kSeverityHues[static_cast<size_t>(severity - 1)])
        << severity;
  }
  EXPECT_EQ(Hue(Body(Make("discord")->Render(Resolved()))["embeds"][0]["color"].get<uint32_t>()),
            "green");
}

TEST(Discord, EscapesMarkdownSoHostileNamesCannotLink) {
  const json body = Body(Make("discord")->Render(Hostile("[x](https://evil.example)")));
  const std::string content = body.at("content");
  EXPECT_EQ(content.find("[x](https"), std::string::npos) << content;
  EXPECT_NE(content.find("\\[x\\]\\(https://evil.example\\)"), std::string::npos) << content;
  for (const json& field : body["embeds"][0]["fields"]) {
    EXPECT_EQ(field["value"].get<std::string>().find("[x](https"), std::string::npos);
  }
}

TEST(Discord, CutsEverythingToDiscordsLimits) {
  const HttpRequest request = Make("discord")->Render(Huge());
  EXPECT_EQ(request.body.find(kReplacementChar), std::string::npos) << "a character was split";
  const json body = Body(request);
  EXPECT_LE(Units(body.at("content").get<std::string>()), 2000u);
  const json& embed = body["embeds"][0];
  const std::string title = embed.at("title");
  const std::string description = embed.at("description");
  const std::string footer = embed["footer"].at("text");
  EXPECT_LE(Units(title), 256u);
  EXPECT_LE(Units(description), 4096u);
  EXPECT_LE(embed.at("fields").size(), 25u);
  size_t total = Units(title) + Units(description) + Units(footer);
  for (const json& field : embed["fields"]) {
    EXPECT_LE(Units(field.at("name").get<std::string>()), 256u);
    EXPECT_LE(Units(field.at("value").get<std::string>()), 1024u);
    total += Units(field["name"].get<std::string>()) + Units(field["value"].get<std::string>());
  }
  EXPECT_LE(total, 6000u);
  EXPECT_GT(total, 5000u) << "the budget is used, not thrown away";
  // A cut says so.
  EXPECT_EQ(title.substr(title.size() - 3), "\xE2\x80\xA6");
}

TEST(Discord, TemplateReplacesTheContent) {
  const json body = Body(WithTemplate("discord", "**{{severity}}** {{program}} on {{host}}")
                             ->Render(Hostile("*evil*")));
  EXPECT_EQ(body.at("content"), "**high** \\*evil\\* on web-1");
}

// ---------------------------------------------------------------------------------------------
// Teams

TEST(Teams, PostsAnAdaptiveCardThroughTheWorkflowsWebhook) {
  const HttpRequest request = Make("teams")->Render(Listener());
  EXPECT_EQ(request.url, kSecretUrl);
  EXPECT_EQ(request.body.find("MessageCard"), std::string::npos);
  const json body = Body(request);
  EXPECT_EQ(body.at("type"), "message");
  ASSERT_EQ(body.at("attachments").size(), 1u);
  const json& attachment = body["attachments"][0];
  EXPECT_EQ(attachment.at("contentType"), "application/vnd.microsoft.card.adaptive");
  EXPECT_TRUE(attachment.at("contentUrl").is_null());
  const json& card = attachment.at("content");
  EXPECT_EQ(card.at("$schema"), "http://adaptivecards.io/schemas/adaptive-card.json");
  EXPECT_EQ(card.at("type"), "AdaptiveCard");
  EXPECT_EQ(card.at("version"), "1.4");
  ASSERT_EQ(card.at("body").size(), 2u);
  const json& headline = card["body"][0];
  EXPECT_EQ(headline.at("type"), "TextBlock");
  EXPECT_EQ(headline.at("text"), kHeadline);
  EXPECT_EQ(headline.at("weight"), "Bolder");
  EXPECT_EQ(headline.at("wrap"), true);
  EXPECT_EQ(headline.at("color"), "Attention");
  const json& facts = card["body"][1];
  EXPECT_EQ(facts.at("type"), "FactSet");
  ASSERT_EQ(facts.at("facts").size(), 11u);
  EXPECT_EQ(facts["facts"][3], json({{"title", "Program"}, {"value", "nc (/tmp/nc)"}}));
  ASSERT_EQ(card.at("actions").size(), 1u);
  EXPECT_EQ(card["actions"][0], json({{"type", "Action.OpenUrl"},
                                      {"title", "Open in portwatch"},
                                      {"url", "https://pw.example/#/alerts/7"}}));
}

TEST(Teams, AHostileNameCannotBecomeALink) {
  const json card = Body(Make("teams")->Render(
      Hostile("[Reset SSO](https://evil.example)")))["attachments"][0]["content"];
  const std::string headline = card["body"][0]["text"];
  EXPECT_EQ(headline.find("]("), std::string::npos) << headline;
  EXPECT_NE(headline.find("[Reset SSO]\xE2\x80\x8B(https://evil.example)"), std::string::npos)
      << headline;
  for (const json& fact : card["body"][1]["facts"]) {
    EXPECT_EQ(fact["value"].get<std::string>().find("]("), std::string::npos) << fact.dump();
  }
}

TEST(Teams, OffersTheButtonOnlyWithALink) {
  const json body = Body(Make("teams")->Render(Listener("")));
  EXPECT_FALSE(body["attachments"][0]["content"].contains("actions"));
}

TEST(Teams, ColoursTheHeadlineBySeverityAndResolution) {
  const auto colour = [](const Message& message) {
    return Body(Make("teams")->Render(message))["attachments"][0]["content"]["body"][0]["color"];
  };
  EXPECT_EQ(colour(AtSeverity(5)), "Attention");
  EXPECT_EQ(colour(AtSeverity(4)), "Attention");
  EXPECT_EQ(colour(AtSeverity(3)), "Warning");
  EXPECT_EQ(colour(Resolved()), "Good");
}

TEST(Teams, StaysUnderTheMessageSizeLimit) {
  const HttpRequest request = Make("teams")->Render(Huge());
  EXPECT_LT(request.body.size(), 28u * 1024u);
  EXPECT_EQ(request.body.find(kReplacementChar), std::string::npos) << "a character was split";
}

// ---------------------------------------------------------------------------------------------
// Mattermost

TEST(Mattermost, PostsTheHeadlineAndAnAttachmentOfFacts) {
  const HttpRequest request = Make("mattermost")->Render(Listener());
  EXPECT_EQ(request.url, kSecretUrl);
  const json body = Body(request);
  EXPECT_EQ(body.at("username"), "portwatch");
  EXPECT_EQ(body.at("text"),
            "\\[HIGH\\] opened on web-1: nc \\(pid 4242, user root\\) listens "
            "on 0.0.0.0:31337/tcp");
  ASSERT_EQ(body.at("attachments").size(), 1u);
  const json& attachment = body["attachments"][0];
  EXPECT_EQ(attachment.at("fallback"), kHeadline);
  EXPECT_EQ(Hue(attachment.at("color").get<std::string>()), "orange");
  EXPECT_EQ(attachment.at("title"), "nc (pid 4242, user root) listens on 0.0.0.0:31337/tcp");
  EXPECT_EQ(attachment.at("title_link"), "https://pw.example/#/alerts/7");
  ASSERT_EQ(attachment.at("fields").size(), 11u);
  for (const json& field : attachment["fields"]) {
    EXPECT_EQ(field.at("short"), true);
    EXPECT_TRUE(field.at("title").is_string());
    EXPECT_TRUE(field.at("value").is_string());
  }
  EXPECT_EQ(attachment["fields"][6],
            json({{"short", true}, {"title", "Local"}, {"value", "0.0.0.0:31337"}}));
}

TEST(Mattermost, LinksTheTitleOnlyWithADashboardUrl) {
  const json body = Body(Make("mattermost")->Render(Listener("")));
  EXPECT_FALSE(body["attachments"][0].contains("title_link"));
}

TEST(Mattermost, ColoursGreenWhenResolved) {
  const json body = Body(Make("mattermost")->Render(Resolved()));
  EXPECT_EQ(Hue(body["attachments"][0].at("color").get<std::string>()), "green");
}

TEST(Mattermost, HostileNamesNeitherMentionNorLink) {
  const json body = Body(Make("mattermost")->Render(Hostile("@channel[x](http://e.example)")));
  const std::string text = body.at("text");
  EXPECT_EQ(text.find("@channel"), std::string::npos) << text;
  EXPECT_EQ(text.find("[x]("), std::string::npos) << text;
  for (const json& field : body["attachments"][0]["fields"]) {
    EXPECT_EQ(field["value"].get<std::string>().find("@channel"), std::string::npos);
  }
}

// ---------------------------------------------------------------------------------------------
// Telegram

// The text a reader sees: tags dropped, an entity one character. Fails the test on unbalanced
// tags or tags Telegram's HTML mode does not know.
std::string Visible(const std::string& html) {
  std::string visible;
  std::vector<std::string> open;
  for (size_t i = 0; i < html.size();) {
    if (html[i] == '<') {
      const size_t end = html.find('>', i);
      EXPECT_NE(end, std::string::npos) << html;
      if (end == std::string::npos) break;
      const std::string tag = html.substr(i + 1, end - i - 1);
      if (tag[0] == '/') {
        EXPECT_FALSE(open.empty()) << html;
        if (!open.empty()) {
          EXPECT_EQ("/" + open.back(), tag);
          open.pop_back();
        }
      } else {
        const std::string name = tag.substr(0, tag.find(' '));
        EXPECT_TRUE(name == "b" || name == "a" || name == "i") << name;
        open.push_back(name);
      }
      i = end + 1;
    } else if (html[i] == '&') {
      const size_t end = html.find(';', i);
      EXPECT_NE(end, std::string::npos) << html;
      visible += '&';
      i = end == std::string::npos ? html.size() : end + 1;
    } else {
      visible += html[i++];
    }
  }
  EXPECT_TRUE(open.empty()) << html;
  return visible;
}

TEST(Telegram, ReadsAFloodWaitFromTheBodyWhenNoHeaderSaysIt) {
  const std::unique_ptr<Target> telegram = Make("telegram");
  HttpResponse flood;
  flood.status = 429;
  flood.body = R"({"ok":false,"error_code":429,"description":"Too Many Requests: retry after 37",)"
               R"("parameters":{"retry_after":37}})";
  EXPECT_EQ(telegram->RetryAfter(flood), std::chrono::seconds(37));
  flood.retry_after = std::chrono::seconds(5);  // the header, when there is one, wins
  EXPECT_EQ(telegram->RetryAfter(flood), std::chrono::seconds(5));
  HttpResponse other;
  other.status = 429;
  other.body = "<html>busy</html>";
  EXPECT_EQ(telegram->RetryAfter(other), std::nullopt);
  // The other targets read only the header.
  EXPECT_EQ(Make("slack")->RetryAfter(flood), std::chrono::seconds(5));
  flood.retry_after.reset();
  EXPECT_EQ(Make("slack")->RetryAfter(flood), std::nullopt);
}

TEST(Telegram, CallsSendMessageWithTheBotToken) {
  EXPECT_EQ(Make("telegram")->Render(Listener()).url,
            "https://api.telegram.org/bot123456:ABC-def_ghi/sendMessage");
  TargetConfig config = Config("telegram");
  config.url = "http://127.0.0.1:8081/";
  EXPECT_EQ(Make(config)->Render(Listener()).url,
            "http://127.0.0.1:8081/bot123456:ABC-def_ghi/sendMessage");
}

TEST(Telegram, SendsHtmlWithTheHeadlineInBoldAndOneFactPerLine) {
  const json body = Body(Make("telegram")->Render(Listener()));
  EXPECT_EQ(body.at("chat_id"), "-1001234567890");
  EXPECT_EQ(body.at("parse_mode"), "HTML");
  EXPECT_EQ(body.at("disable_web_page_preview"), true);
  const std::string text = body.at("text");
  EXPECT_EQ(text,
            "<b>[HIGH] opened on web-1: nc (pid 4242, user root) listens on "
            "0.0.0.0:31337/tcp</b>\n"
            "<b>Host:</b> web-1\n"
            "<b>Rule:</b> backdoor-port (T1571)\n"
            "<b>Severity:</b> high\n"
            "<b>Program:</b> nc (/tmp/nc)\n"
            "<b>PID:</b> 4242\n"
            "<b>User:</b> root\n"
            "<b>Local:</b> 0.0.0.0:31337\n"
            "<b>Port:</b> 31337/tcp, registered\n"
            "<b>Exposure:</b> all interfaces\n"
            "<b>Seen:</b> 3 times\n"
            "<b>Reasons:</b> 31337 is a known backdoor port; a new listener not in the baseline\n"
            "<a href=\"https://pw.example/#/alerts/7\">Open in portwatch</a>");
  EXPECT_EQ(Body(Make("telegram")->Render(Listener(""))).at("text").get<std::string>().find("<a "),
            std::string::npos);
}

TEST(Telegram, EscapesHostileNames) {
  const std::string text = Body(Make("telegram")->Render(Hostile("<b>&evil")))["text"];
  EXPECT_NE(text.find("&lt;b&gt;&amp;evil"), std::string::npos) << text;
  EXPECT_EQ(text.find("<b>&evil"), std::string::npos) << text;
  Visible(text);  // only portwatch's own tags, balanced
}

TEST(Telegram, CutsTheVisibleTextTo4096KeepingTheHtmlValid) {
  const HttpRequest request = Make("telegram")->Render(Huge());
  EXPECT_EQ(request.body.find(kReplacementChar), std::string::npos) << "a character was split";
  const std::string text = Body(request)["text"];
  const std::string visible = Visible(text);
  EXPECT_LE(Units(visible), 4096u);
  EXPECT_GT(Units(visible), 4000u);
  EXPECT_EQ(visible.substr(visible.size() - 3), "\xE2\x80\xA6");
}

TEST(Telegram, CutsATemplateOutsideItsTags) {
  const std::string text =
      Body(WithTemplate("telegram", "<b>{{title}}</b> <i>{{reasons}}</i>")->Render(Huge()))["text"];
  EXPECT_EQ(text.rfind("<b>", 0), 0u);
  EXPECT_LE(Units(Visible(text)), 4096u);
}

TEST(Telegram, TemplateReplacesTheWholeText) {
  const json body = Body(
      WithTemplate("telegram", "{{severity}}: <i>{{program}}</i>")->Render(Hostile("<b>&evil")));
  EXPECT_EQ(body.at("text"), "high: <i>&lt;b&gt;&amp;evil</i>");
}

// ---------------------------------------------------------------------------------------------
// Webhook

std::string ReferenceHmac(const std::string& key, const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &length);
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    char byte[3];
    std::snprintf(byte, sizeof(byte), "%02x", digest[i]);
    hex += byte;
  }
  return hex;
}

TEST(Webhook, PostsTheAlertAndTheEvent) {
  const HttpRequest request = Make("webhook")->Render(Listener());
  EXPECT_EQ(request.url, kSecretUrl);
  EXPECT_EQ(request.content_type, "application/json");
  const json body = Body(request);
  EXPECT_EQ(body.at("version"), 1);
  EXPECT_EQ(body.at("host"), "web-1");
  EXPECT_EQ(body.at("event"),
            json({{"id", 99}, {"kind", "opened"}, {"at", "2025-11-25T14:10:00.000Z"}}));
  const json& alert = body.at("alert");
  EXPECT_EQ(alert.at("id"), 7);
  EXPECT_EQ(alert.at("fingerprint"), "3f2a9c0d5b7e1a44");
  EXPECT_EQ(alert.at("severity"), "high");
  EXPECT_EQ(alert.at("count"), 3);
  EXPECT_EQ(alert.at("first_seen"), "2025-11-25T13:05:01.123Z");
  EXPECT_EQ(alert.at("reasons")[0].at("rule"), "backdoor-port");
  EXPECT_EQ(alert.at("last_evidence").at("cmdline"), "nc -lvp 31337");
  EXPECT_EQ(body.at("message"), kHeadline);
  EXPECT_EQ(body.at("link"), "https://pw.example/#/alerts/7");
  EXPECT_EQ(body.at("test"), false);
  EXPECT_TRUE(Body(Make("webhook")->Render(Listener(""))).at("link").is_null());
}

TEST(Webhook, CarriesTheIdempotencyKey) {
  const HttpRequest request = Make("webhook")->Render(Listener());
  EXPECT_EQ(Header(request, "Idempotency-Key"), "web-1:99");
  EXPECT_EQ(Header(request, "X-Portwatch-Signature"), "<absent>");
}

TEST(Webhook, SignsTheBodyWithHmacSha256) {
  TargetConfig config = Config("webhook");
  config.hmac_key = "whsec_5f1c2e9d";
  const HttpRequest request = Make(config)->Render(Listener());
  const std::string signature = Header(request, "X-Portwatch-Signature");
  EXPECT_EQ(signature, "sha256=" + ReferenceHmac("whsec_5f1c2e9d", request.body));
  EXPECT_EQ(signature.size(), 7u + 64u);
}

TEST(Webhook, HmacMatchesRfc4231) {
  // RFC 4231 test cases 1, 2 and 6 (a key longer than the block size).
  EXPECT_EQ(HmacSha256Hex(std::string(20, '\x0b'), "Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(HmacSha256Hex(std::string(131, '\xaa'),
                          "Test Using Larger Than Block-Size Key - Hash Key First"),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(Webhook, MarksATestMessage) {
  const json body = Body(Make("webhook")->Render(TestMessage({"web-1", ""}, kLastSeen)));
  EXPECT_EQ(body.at("test"), true);
  EXPECT_EQ(body.at("event").at("id"), 0);
}

TEST(Webhook, TemplateReplacesTheMessageUnescaped) {
  const json body =
      Body(WithTemplate("webhook", "{{program}} <{{port}}>")->Render(Hostile("<b>&evil")));
  EXPECT_EQ(body.at("message"), "<b>&evil <31337>");
}

// ---------------------------------------------------------------------------------------------
// Alertmanager

TargetConfig AlertmanagerConfig() {
  TargetConfig config = Config("alertmanager");
  config.url = "http://alertmanager.example:9093/";
  config.resend_every = std::chrono::seconds(30);
  return config;
}

TEST(Alertmanager, PostsAnArrayToTheV2Api) {
  const std::unique_ptr<Target> target = Make(AlertmanagerConfig());
  const HttpRequest request = target->Render(Listener());
  EXPECT_EQ(request.url, "http://alertmanager.example:9093/api/v2/alerts");
  const json body = Body(request);
  ASSERT_TRUE(body.is_array());
  ASSERT_EQ(body.size(), 1u);
  const json& alert = body[0];
  EXPECT_EQ(alert.at("labels"), json({{"alertname", "PortwatchAlert"},
                                      {"severity", "high"},
                                      {"instance", "web-1"},
                                      {"fingerprint", "3f2a9c0d5b7e1a44"},
                                      {"kind", "listener"},
                                      {"rule", "backdoor-port"},
                                      {"program", "nc"},
                                      {"protocol", "tcp"},
                                      {"port", "31337"}}));
  for (const auto& [name, value] : alert["labels"].items()) {
    EXPECT_TRUE(value.is_string()) << name;
  }
  EXPECT_EQ(
      alert.at("annotations"),
      json({{"summary", "nc (pid 4242, user root) listens on 0.0.0.0:31337/tcp"},
            {"description", "31337 is a known backdoor port\na new listener not in the baseline"},
            {"link", "https://pw.example/#/alerts/7"}}));
  EXPECT_EQ(alert.at("startsAt"), "2025-11-25T13:05:01.123Z");
  EXPECT_FALSE(alert.contains("endsAt"));
  EXPECT_EQ(alert.at("generatorURL"), "https://pw.example/#/alerts/7");
}

TEST(Alertmanager, LeavesTheLinkOutWithoutADashboardUrl) {
  const json alert = Body(Make(AlertmanagerConfig())->Render(Listener("")))[0];
  EXPECT_FALSE(alert.contains("generatorURL"));
  EXPECT_FALSE(alert.at("annotations").contains("link"));
}

TEST(Alertmanager, KeepsTheLabelsOfOneAlertStable) {
  store::Alert later = ListenerAlert();
  later.count = 41;
  later.last_seen = kLastSeen + 3'600'000;
  json evidence = json::parse(kListenerEvidence);
  evidence["pid"] = 5150;  // restarted
  evidence["inode"] = 99812;
  evidence["cookie"] = 77;
  later.last_evidence = evidence.dump();
  later.title = "nc (pid 5150, user root) listens on 0.0.0.0:31337/tcp";
  const std::unique_ptr<Target> target = Make(AlertmanagerConfig());
  const json first = Body(target->Render(Listener()))[0];
  const json again = Body(target->Render(
      BuildMessage(later, AlertEventKind::kOpened, 120, later.last_seen, {"web-1", ""})))[0];
  EXPECT_EQ(first.at("labels"), again.at("labels"));
  EXPECT_EQ(first.at("startsAt"), again.at("startsAt"));
}

TEST(Alertmanager, LeavesPortAndProtocolOutForAProcess) {
  store::Alert alert = ListenerAlert();
  alert.kind = 3;  // a process's fan-out: its evidence is whichever socket came last
  const json labels = Body(Make(AlertmanagerConfig())->Render(Build(alert)))[0].at("labels");
  EXPECT_EQ(labels.at("kind"), "process");
  EXPECT_FALSE(labels.contains("port"));
  EXPECT_FALSE(labels.contains("protocol"));
  EXPECT_EQ(labels.at("program"), "nc");
}

TEST(Alertmanager, EndsAResolvedAlert) {
  const json alert = Body(Make(AlertmanagerConfig())->Render(Resolved()))[0];
  EXPECT_EQ(alert.at("endsAt"), "2025-11-25T14:10:05.000Z");
  EXPECT_EQ(alert.at("startsAt"), "2025-11-25T13:05:01.123Z");
  EXPECT_EQ(alert.at("labels"), Body(Make(AlertmanagerConfig())->Render(Listener()))[0]["labels"]);
}

TEST(Alertmanager, ResendsEveryActiveAlertInOneRequest) {
  const std::unique_ptr<Target> target = Make(AlertmanagerConfig());
  EXPECT_EQ(target->resend_every(), std::chrono::seconds(30));
  std::vector<Message> active;
  for (const char* fingerprint : {"a1", "b2", "c3"}) {
    store::Alert alert = ListenerAlert();
    alert.fingerprint = fingerprint;
    active.push_back(Build(alert));
  }
  const HttpRequest request = target->RenderActive(active);
  EXPECT_EQ(request.url, "http://alertmanager.example:9093/api/v2/alerts");
  const json body = Body(request);
  ASSERT_EQ(body.size(), 3u);
  std::set<std::string> fingerprints;
  for (const json& alert : body) {
    fingerprints.insert(alert.at("labels").at("fingerprint").get<std::string>());
    EXPECT_FALSE(alert.contains("endsAt"));
  }
  EXPECT_EQ(fingerprints, (std::set<std::string>{"a1", "b2", "c3"}));
}

TEST(Alertmanager, TestAlertIsLabelledAndClearsItself) {
  const json alert =
      Body(Make(AlertmanagerConfig())->Render(TestMessage({"web-1", ""}, kLastSeen)))[0];
  EXPECT_EQ(alert.at("labels").at("test"), "true");
  EXPECT_EQ(alert.at("labels").at("severity"), "info");
  EXPECT_EQ(alert.at("endsAt"), "2025-11-25T14:15:00.000Z");
}

}  // namespace
}  // namespace portwatch::agent::notify
