// Mattermost: an incoming webhook (https://developers.mattermost.com/integrate/webhooks/incoming/),
// with one message attachment
// (https://developers.mattermost.com/integrate/reference/message-attachments/).
//
// The headline as the post's text, then an attachment coloured by severity whose title links to
// the dashboard and whose short fields hold the facts. Mattermost renders Markdown in the text and
// the field values, and notifies on @-mentions in the text, so values from the host have Markdown
// escaped and every "@" followed by a zero-width space: a process named "@channel" pings no one.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "agent/notify/targets.h"

namespace portwatch::agent::notify {

namespace {

using nlohmann::json;

constexpr size_t kTextLimit = 16383;  // a post's length, in characters
constexpr size_t kTitleLimit = 256;
constexpr size_t kFieldLimit = 1024;

constexpr std::string_view kZeroWidthSpace = "\xE2\x80\x8B";

std::string EscapeMattermost(std::string_view text) {
  std::string escaped = EscapeMarkdown(text);
  std::string out;
  out.reserve(escaped.size());
  for (const char c : escaped) {
    out += c;
    if (c == '@') out += kZeroWidthSpace;
  }
  return out;
}

class MattermostTarget final : public Target {
 public:
  MattermostTarget(TargetConfig config, std::optional<Template> text)
      : Target(std::move(config)), text_(std::move(text)) {}

  HttpRequest Render(const Message& message) const override;

 private:
  std::optional<Template> text_;
};

HttpRequest MattermostTarget::Render(const Message& message) const {
  const std::string headline = Headline(message);
  const std::string text = text_ ? Truncate(text_->Render(message, EscapeMattermost), kTextLimit)
                                 : EscapeWithin(headline, kTextLimit, EscapeMattermost);
  json fields = json::array();
  for (const auto& [label, value] : Facts(message)) {
    fields.push_back({{"short", true},
                      {"title", label},
                      {"value", EscapeWithin(value, kFieldLimit, EscapeMattermost)}});
  }
  // The fallback is plain text for notifications; the title is not rendered as Markdown.
  json attachment = {
      {"fallback", Truncate(headline, kTextLimit)},
      {"color", HexColour(SeverityColour(message))},
      {"title",
       Truncate(message.alert.title.empty() ? headline : message.alert.title, kTitleLimit)},
      {"fields", std::move(fields)}};
  if (!message.link.empty()) attachment["title_link"] = message.link;

  json body = {{"username", "portwatch"}, {"text", text}, {"attachments", json::array()}};
  body["attachments"].push_back(std::move(attachment));
  return HttpRequest{config().url, DumpJson(body), "application/json", {}};
}

}  // namespace

std::unique_ptr<Target> MakeMattermostTarget(TargetConfig config, std::optional<Template> text) {
  return std::make_unique<MattermostTarget>(std::move(config), std::move(text));
}

}  // namespace portwatch::agent::notify
