// Microsoft Teams: a Workflows webhook ("When a Teams webhook request is received"), which posts
// an Adaptive Card (https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/
// cards/cards-reference#adaptive-card). The Office 365 connectors' MessageCard format is retired
// and is not used.
//
// The card: the headline in bold, coloured by severity (green once resolved), the facts as a
// FactSet, and an "Open in portwatch" button when there is a link. Teams refuses messages over
// 28 KB; the headline and each fact are cut well below that. Teams renders a Markdown subset in
// TextBlocks and facts and documents no escape for it, so the one construct a hostile name could
// abuse, a link ("[Reset SSO](https://…)"), is broken with a zero-width space between "]" and
// "("; HTML is not rendered, and the title, cleaned of control characters, cannot forge lines.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "agent/notify/targets.h"
#include "agent/rules/rule.h"

namespace portwatch::agent::notify {

namespace {

using nlohmann::json;

// Twelve facts of 512 characters, three bytes each at worst, and the headline stay under 28 KB.
constexpr size_t kHeadlineLimit = 1024;
constexpr size_t kFactLimit = 512;

// Adaptive Cards name colours by role, not value; the host app picks the shade.
std::string_view CardColour(const Message& message) {
  if (message.event == store::AlertEventKind::kResolved) return "Good";
  const std::optional<rules::Severity> severity = rules::ParseSeverity(message.severity);
  if (!severity) return "Default";
  switch (*severity) {
    case rules::Severity::kCritical:
    case rules::Severity::kHigh:
      return "Attention";
    case rules::Severity::kMedium:
      return "Warning";
    case rules::Severity::kLow:
      return "Accent";
    case rules::Severity::kInfo:
      return "Default";
  }
  return "Default";
}

// "](" becomes "]\u200B(": shown the same, never read as a link.
std::string DefuseLinks(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    out += text[i];
    if (text[i] == ']' && i + 1 < text.size() && text[i + 1] == '(') out += "\xE2\x80\x8B";
  }
  return out;
}

class TeamsTarget final : public Target {
 public:
  TeamsTarget(TargetConfig config, std::optional<Template> text)
      : Target(std::move(config)), text_(std::move(text)) {}

  HttpRequest Render(const Message& message) const override;

 private:
  std::optional<Template> text_;
};

HttpRequest TeamsTarget::Render(const Message& message) const {
  json facts = json::array();
  for (const auto& [label, value] : Facts(message)) {
    facts.push_back({{"title", label}, {"value", Truncate(DefuseLinks(value), kFactLimit)}});
  }
  json body = json::array();
  body.push_back(
      {{"type", "TextBlock"},
       {"text", Truncate(DefuseLinks(LeadText(message, text_, nullptr)), kHeadlineLimit)},
       {"weight", "Bolder"},
       {"size", "Medium"},
       {"wrap", true},
       {"color", CardColour(message)}});
  body.push_back({{"type", "FactSet"}, {"facts", std::move(facts)}});

  json card = {{"$schema", "http://adaptivecards.io/schemas/adaptive-card.json"},
               {"type", "AdaptiveCard"},
               {"version", "1.4"},
               {"body", std::move(body)}};
  if (!message.link.empty()) {
    card["actions"] = json::array();
    card["actions"].push_back(
        {{"type", "Action.OpenUrl"}, {"title", "Open in portwatch"}, {"url", message.link}});
  }
  json attachment = {{"contentType", "application/vnd.microsoft.card.adaptive"},
                     {"contentUrl", nullptr},
                     {"content", std::move(card)}};
  json payload = {{"type", "message"}, {"attachments", json::array()}};
  payload["attachments"].push_back(std::move(attachment));
  return HttpRequest{config().url, DumpJson(payload), "application/json", {}};
}

}  // namespace

std::unique_ptr<Target> MakeTeamsTarget(TargetConfig config, std::optional<Template> text) {
  return std::make_unique<TeamsTarget>(std::move(config), std::move(text));
}

}  // namespace portwatch::agent::notify
