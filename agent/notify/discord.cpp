// Discord: a channel webhook
// (https://discord.com/developers/docs/resources/webhook#execute-webhook).
//
// The headline as the message's content, and one embed: the alert's title (linked to the
// dashboard when there is a link), the reasons as its description, the facts as inline fields,
// the event time and "portwatch on HOST" underneath, the side bar coloured by severity.
//
// Discord rejects a message over its limits rather than cutting it, so everything is cut here:
// content 2000 characters, embed title 256, description 4096, at most 25 fields with names of 256
// and values of 1024, footer 2048, and 6000 for all of an embed's text together; when the values
// would pass that, the longest are cut first. Values from the host have Markdown escaped, and
// "allowed_mentions" is empty, so a hostile name can neither format, link nor ping.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <numeric>

#include "agent/notify/targets.h"
#include "collectors/time_text.h"

namespace portwatch::agent::notify {

namespace {

using nlohmann::json;

constexpr size_t kContentLimit = 2000;
constexpr size_t kTitleLimit = 256;
constexpr size_t kDescriptionLimit = 4096;
constexpr size_t kMaxFields = 25;
constexpr size_t kFieldNameLimit = 256;
constexpr size_t kFieldValueLimit = 1024;
constexpr size_t kFooterLimit = 2048;
constexpr size_t kEmbedLimit = 6000;

// Caps that make `wanted` fit `budget` together: short texts keep their length, the budget left
// is shared evenly among the longer ones.
std::vector<size_t> FairShares(const std::vector<size_t>& wanted, size_t budget) {
  std::vector<size_t> order(wanted.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return wanted[a] < wanted[b]; });
  std::vector<size_t> caps(wanted.size());
  size_t left = budget;
  for (size_t k = 0; k < order.size(); ++k) {
    const size_t cap = std::min(wanted[order[k]], left / (order.size() - k));
    caps[order[k]] = cap;
    left -= cap;
  }
  return caps;
}

class DiscordTarget final : public Target {
 public:
  DiscordTarget(TargetConfig config, std::optional<Template> text)
      : Target(std::move(config)), text_(std::move(text)) {}

  HttpRequest Render(const Message& message) const override;

 private:
  std::optional<Template> text_;
};

HttpRequest DiscordTarget::Render(const Message& message) const {
  const std::string content = text_
                                  ? Truncate(text_->Render(message, EscapeMarkdown), kContentLimit)
                                  : EscapeWithin(Headline(message), kContentLimit, EscapeMarkdown);
  // Embed titles show no links, so the title needs no escaping.
  const std::string title =
      Truncate(message.alert.title.empty() ? Headline(message) : message.alert.title, kTitleLimit);
  const std::string footer = Truncate(fmt::format("portwatch on {}", message.host), kFooterLimit);

  // The host is in the footer and the reasons are the description: the fields hold the rest.
  std::vector<std::pair<std::string, std::string>> facts;
  for (auto& [label, value] : Facts(message)) {
    if (label == "Host" || label == "Reasons" || facts.size() == kMaxFields) continue;
    facts.emplace_back(Truncate(label, kFieldNameLimit), std::move(value));
  }
  const std::string description = JoinReasons(message, "\n");

  // Entry 0 is the description, entry i + 1 the value of fact i.
  size_t budget = kEmbedLimit - Utf16Length(title) - Utf16Length(footer);
  std::vector<size_t> wanted;
  wanted.push_back(std::min(Utf16Length(EscapeMarkdown(description)), kDescriptionLimit));
  for (const auto& [label, value] : facts) {
    budget -= std::min(budget, Utf16Length(label));
    wanted.push_back(std::min(Utf16Length(EscapeMarkdown(value)), kFieldValueLimit));
  }
  const std::vector<size_t> caps = FairShares(wanted, budget);

  json fields = json::array();
  for (size_t i = 0; i < facts.size(); ++i) {
    fields.push_back({{"name", facts[i].first},
                      {"value", EscapeWithin(facts[i].second, caps[i + 1], EscapeMarkdown)},
                      {"inline", true}});
  }
  json embed = {{"title", title},
                {"color", SeverityColour(message)},
                {"fields", std::move(fields)},
                {"timestamp", collectors::FormatIsoTime(message.at)},
                {"footer", {{"text", footer}}}};
  if (!description.empty()) {
    embed["description"] = EscapeWithin(description, caps[0], EscapeMarkdown);
  }
  if (!message.link.empty()) embed["url"] = message.link;

  json body = {{"username", "portwatch"},
               {"content", content},
               {"embeds", json::array()},
               {"allowed_mentions", {{"parse", json::array()}}}};
  body["embeds"].push_back(std::move(embed));
  return HttpRequest{config().url, DumpJson(body), "application/json", {}};
}

}  // namespace

std::unique_ptr<Target> MakeDiscordTarget(TargetConfig config, std::optional<Template> text) {
  return std::make_unique<DiscordTarget>(std::move(config), std::move(text));
}

}  // namespace portwatch::agent::notify
