// Slack: an incoming webhook (https://api.slack.com/messaging/webhooks), in Block Kit.
//
// A section with the headline in bold, then one attachment whose colour bar shows the severity,
// holding the facts as section fields (Slack takes at most 10 per section) and a context line
// with the link. The top-level "text" is what notifications and clients without blocks show.
// Every value from the host is escaped as mrkdwn wants (&, <, >), so a program named "<!here>"
// neither pings a channel nor makes a link.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "agent/notify/targets.h"

namespace portwatch::agent::notify {

namespace {

using nlohmann::json;

// Block Kit's limits, in characters.
constexpr size_t kTextLimit = 3000;   // a section's text
constexpr size_t kFieldLimit = 2000;  // one field's text
constexpr size_t kFieldsPerSection = 10;

std::string EscapeSlack(std::string_view text) { return EscapeEntities(text, "&<>"); }

json Mrkdwn(std::string text) { return {{"type", "mrkdwn"}, {"text", std::move(text)}}; }

class SlackTarget final : public Target {
 public:
  SlackTarget(TargetConfig config, std::optional<Template> text)
      : Target(std::move(config)), text_(std::move(text)) {}

  HttpRequest Render(const Message& message) const override;

 private:
  std::optional<Template> text_;
};

HttpRequest SlackTarget::Render(const Message& message) const {
  // A template's own text is mrkdwn the user wrote; only the headline is made bold.
  const std::string lead = text_ ? Truncate(text_->Render(message, EscapeSlack), kTextLimit)
                                 : EscapeWithin(Headline(message), kTextLimit - 2, EscapeSlack);
  json headline = {{"type", "section"}, {"text", Mrkdwn(text_ ? lead : fmt::format("*{}*", lead))}};

  json details = json::array();
  json fields = json::array();
  for (const auto& [label, value] : Facts(message)) {
    const std::string name = fmt::format("*{}*\n", label);
    fields.push_back(Mrkdwn(fmt::format(
        "{}{}", name, EscapeWithin(value, kFieldLimit - Utf16Length(name), EscapeSlack))));
    if (fields.size() == kFieldsPerSection) {
      details.push_back({{"type", "section"}, {"fields", std::move(fields)}});
      fields = json::array();
    }
  }
  if (!fields.empty()) details.push_back({{"type", "section"}, {"fields", std::move(fields)}});
  if (!message.link.empty()) {
    json elements = json::array();
    elements.push_back(Mrkdwn(fmt::format("<{}|Open in portwatch>", EscapeSlack(message.link))));
    details.push_back({{"type", "context"}, {"elements", std::move(elements)}});
  }

  json attachment = {{"color", HexColour(SeverityColour(message))}, {"blocks", std::move(details)}};
  json body = json::object();
  body["text"] = lead;
  body["blocks"] = json::array();
  body["blocks"].push_back(std::move(headline));
  body["attachments"] = json::array();
  body["attachments"].push_back(std::move(attachment));
  return HttpRequest{config().url, DumpJson(body), "application/json", {}};
}

}  // namespace

std::unique_ptr<Target> MakeSlackTarget(TargetConfig config, std::optional<Template> text) {
  return std::make_unique<SlackTarget>(std::move(config), std::move(text));
}

}  // namespace portwatch::agent::notify
