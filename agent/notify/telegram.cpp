// Telegram: the Bot API's sendMessage (https://core.telegram.org/bots/api#sendmessage), posted to
// <base URL>/bot<token>/sendMessage, with parse_mode HTML.
//
// The text: the headline in bold, then one fact per line, then a link to the dashboard. A
// template replaces all of it and may use Telegram's HTML tags; the values it substitutes are
// escaped (&, <, >, ") like every value from the host. Telegram refuses texts over 4096
// characters, counted after entities are parsed, so the text is cut on what a reader sees: never
// inside a tag or an entity, and the tags still open are closed.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <optional>
#include <vector>

#include "agent/notify/targets.h"

namespace portwatch::agent::notify {

namespace {

using nlohmann::json;

constexpr size_t kTextLimit = 4096;
constexpr std::string_view kEllipsis = "\xE2\x80\xA6";

std::string EscapeHtml(std::string_view text) { return EscapeEntities(text, "&<>\""); }

// "b" from "<b>", "a" from "<a href=...>", "b" from "</b>".
std::string_view TagName(std::string_view tag) {
  tag.remove_prefix(tag.starts_with("</") ? 2 : 1);
  const size_t end = tag.find_first_of(" \t\n/>");
  return tag.substr(0, end);
}

struct HtmlToken {
  size_t end = 0;    // one past the token
  size_t units = 0;  // visible UTF-16 units: none for a tag, one for an entity
  bool tag = false;
};

HtmlToken NextToken(std::string_view html, size_t offset) {
  if (html[offset] == '<') {
    if (const size_t close = html.find('>', offset); close != std::string_view::npos) {
      return {close + 1, 0, true};
    }
  }
  if (html[offset] == '&') {
    if (const size_t semicolon = html.find(';', offset);
        semicolon != std::string_view::npos && semicolon - offset <= 10) {
      return {semicolon + 1, 1, false};
    }
  }
  const Utf8Char c = DecodeUtf8(html, offset);
  return {offset + c.size, c.code_point >= 0x10000 ? size_t{2} : size_t{1}, false};
}

size_t VisibleLength(std::string_view html) {
  size_t units = 0;
  for (size_t offset = 0; offset < html.size();) {
    const HtmlToken token = NextToken(html, offset);
    units += token.units;
    offset = token.end;
  }
  return units;
}

// `html` with at most `limit` units of visible text, cut before a text token so that "…" fits.
std::string TruncateHtml(std::string_view html, size_t limit) {
  if (VisibleLength(html) <= limit) return std::string(html);
  std::string out;
  std::vector<std::string_view> open;  // tags not closed yet, innermost last
  size_t visible = 0;
  for (size_t offset = 0; offset < html.size();) {
    const HtmlToken token = NextToken(html, offset);
    const std::string_view piece = html.substr(offset, token.end - offset);
    if (token.tag && piece.starts_with("</")) {
      if (!open.empty() && open.back() == TagName(piece)) open.pop_back();
    } else if (token.tag && !piece.ends_with("/>")) {
      open.push_back(TagName(piece));
    } else if (visible + token.units > limit - 1) {
      break;
    }
    visible += token.units;
    out.append(piece);
    offset = token.end;
  }
  out += kEllipsis;
  while (!open.empty()) {
    out += fmt::format("</{}>", open.back());
    open.pop_back();
  }
  return out;
}

class TelegramTarget final : public Target {
 public:
  TelegramTarget(TargetConfig config, std::optional<Template> text)
      : Target(std::move(config)), text_(std::move(text)) {}

  HttpRequest Render(const Message& message) const override;
  // A flood wait comes as {"ok":false,"error_code":429,"parameters":{"retry_after":N}}, often
  // with no header; retrying sooner only lengthens it.
  std::optional<std::chrono::milliseconds> RetryAfter(const HttpResponse& response) const override {
    if (response.retry_after) return response.retry_after;
    const json body = json::parse(response.body, nullptr, false);
    if (!body.is_object() || !body.contains("parameters")) return std::nullopt;
    const json& parameters = body["parameters"];
    if (!parameters.is_object() || !parameters.contains("retry_after") ||
        !parameters["retry_after"].is_number_unsigned()) {
      return std::nullopt;
    }
    const uint64_t seconds = std::min<uint64_t>(parameters["retry_after"].get<uint64_t>(), 86400);
    return std::chrono::milliseconds(seconds * 1000);
  }

 private:
  std::optional<Template> text_;
};

std::string BuiltInText(const Message& message) {
  std::string text = fmt::format("<b>{}</b>", EscapeHtml(Headline(message)));
  for (const auto& [label, value] : Facts(message)) {
    text += fmt::format("\n<b>{}:</b> {}", label, EscapeHtml(value));
  }
  if (!message.link.empty()) {
    text += fmt::format("\n<a href=\"{}\">Open in portwatch</a>", EscapeHtml(message.link));
  }
  return text;
}

HttpRequest TelegramTarget::Render(const Message& message) const {
  std::string_view base = config().url;
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  const std::string text = text_ ? text_->Render(message, EscapeHtml) : BuiltInText(message);
  const json body = {{"chat_id", config().chat_id},
                     {"text", TruncateHtml(text, kTextLimit)},
                     {"parse_mode", "HTML"},
                     {"disable_web_page_preview", true}};
  return HttpRequest{fmt::format("{}/bot{}/sendMessage", base, config().bot_token),
                     DumpJson(body),
                     "application/json",
                     {}};
}

}  // namespace

std::unique_ptr<Target> MakeTelegramTarget(TargetConfig config, std::optional<Template> text) {
  return std::make_unique<TelegramTarget>(std::move(config), std::move(text));
}

}  // namespace portwatch::agent::notify
