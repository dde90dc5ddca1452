#include "agent/notify/target.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <nlohmann/json.hpp>

#include <array>
#include <chrono>

#include "agent/notify/http_sender.h"
#include "agent/notify/targets.h"
#include "agent/rules/rule.h"

namespace portwatch::agent::notify {

namespace {

using Factory = std::unique_ptr<Target> (*)(TargetConfig, std::optional<Template>);

struct TargetType {
  std::string_view name;
  Factory make;
};

// In the order TargetTypeNames lists them.
constexpr std::array<TargetType, 7> kTypes = {{
    {"slack", MakeSlackTarget},
    {"discord", MakeDiscordTarget},
    {"teams", MakeTeamsTarget},
    {"mattermost", MakeMattermostTarget},
    {"telegram", MakeTelegramTarget},
    {"webhook", MakeWebhookTarget},
    {"alertmanager", MakeAlertmanagerTarget},
}};

constexpr std::string_view kTelegramApi = "https://api.telegram.org";
constexpr std::string_view kEllipsis = "\xE2\x80\xA6";  // U+2026, one UTF-16 unit

size_t Utf16Units(char32_t code_point) { return code_point >= 0x10000 ? 2 : 1; }

// Telegram's tokens are "<bot id>:<secret>" in URL-safe characters; anything else would change the
// request's path.
bool PlausibleBotToken(std::string_view token) {
  for (const char c : token) {
    const bool allowed = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                         (c >= 'A' && c <= 'Z') || c == ':' || c == '-' || c == '_';
    if (!allowed) return false;
  }
  return true;
}

bool HttpUrl(std::string_view url) {
  for (const std::string_view scheme :
       {std::string_view("https://"), std::string_view("http://")}) {
    if (url.starts_with(scheme) && url.size() > scheme.size()) return true;
  }
  return false;
}

}  // namespace

HttpRequest Target::RenderActive(std::span<const Message> /*active*/) const {
  // Only receivers with a resend period are asked, and each of them overrides this.
  return HttpRequest{};
}

std::string_view TargetTypeNames() {
  return "slack, discord, teams, mattermost, telegram, webhook, alertmanager";
}

Result<std::unique_ptr<Target>> MakeTarget(TargetConfig config) {
  // The config loader puts the file and line in front of every message.
  if (config.name.empty()) return Error{"a notification target has no name; set name"};
  // Every message names the target, never its URL or token: those are secrets.
  const auto problem = [&config](std::string_view what) {
    return Error{fmt::format("target '{}': {}", config.name, what)};
  };
  const TargetType* type = nullptr;
  for (const TargetType& known : kTypes) {
    if (known.name == config.type) type = &known;
  }
  if (type == nullptr) {
    if (config.type.empty())
      return problem(fmt::format("no type; use one of {}", TargetTypeNames()));
    return problem(fmt::format("unknown type '{}'; use one of {}", config.type, TargetTypeNames()));
  }
  const bool telegram = config.type == "telegram";
  if (config.url.empty() && telegram) config.url = kTelegramApi;
  if (config.url.empty()) return problem("no URL; set url, url_file or url_env");
  if (!HttpUrl(config.url)) return problem("the URL must start with https:// or http://");
  if (Result<void> usable = CheckUrl(config.url); !usable) return problem(usable.error().message);
  if (telegram) {
    if (config.bot_token.empty()) {
      return problem("no bot token; set bot_token_file or bot_token_env");
    }
    if (!PlausibleBotToken(config.bot_token)) {
      return problem(
          "the bot token has characters a Telegram token never has (a space or a newline?); "
          "check bot_token_file or bot_token_env");
    }
    if (config.chat_id.empty()) return problem("no chat id; set chat_id");
  }
  std::optional<Template> text;
  if (!config.template_text.empty()) {
    Result<Template> parsed = Template::Parse(config.template_text);
    if (!parsed) return problem(fmt::format("template: {}", parsed.error().message));
    text = std::move(*parsed);
  }
  return type->make(std::move(config), std::move(text));
}

std::string LeadText(const Message& message, const std::optional<Template>& text, Escape escape) {
  if (text) return text->Render(message, escape);
  return escape != nullptr ? escape(Headline(message)) : Headline(message);
}

std::string JoinReasons(const Message& message, std::string_view separator) {
  std::string joined;
  for (const Reason& reason : message.reasons) {
    if (reason.text.empty()) continue;
    if (!joined.empty()) joined += separator;
    joined += reason.text;
  }
  return joined;
}

uint32_t SeverityColour(const Message& message) {
  constexpr uint32_t kGrey = 0x95a5a6;
  if (message.event == store::AlertEventKind::kResolved) return 0x2ecc71;
  const std::optional<rules::Severity> severity = rules::ParseSeverity(message.severity);
  if (!severity) return kGrey;
  switch (*severity) {
    case rules::Severity::kInfo:
      return kGrey;
    case rules::Severity::kLow:
      return 0x3498db;
    case rules::Severity::kMedium:
      return 0xf1c40f;
    case rules::Severity::kHigh:
      return 0xe67e22;
    case rules::Severity::kCritical:
      return 0xe74c3c;
  }
  return kGrey;
}

std::string HexColour(uint32_t rgb) { return fmt::format("#{:06x}", rgb & 0xffffff); }

size_t Utf16Length(std::string_view text) {
  size_t units = 0;
  for (size_t offset = 0; offset < text.size();) {
    const Utf8Char c = DecodeUtf8(text, offset);
    units += Utf16Units(c.code_point);
    offset += c.size;
  }
  return units;
}

std::string Truncate(std::string_view text, size_t limit) {
  if (Utf16Length(text) <= limit) return std::string(text);
  if (limit == 0) return "";
  std::string cut;
  size_t units = 0;
  for (size_t offset = 0; offset < text.size();) {
    const Utf8Char c = DecodeUtf8(text, offset);
    units += Utf16Units(c.code_point);
    if (units > limit - 1) break;  // one unit is left for the ellipsis
    cut.append(text.substr(offset, c.size));
    offset += c.size;
  }
  cut += kEllipsis;
  return cut;
}

std::string EscapeWithin(std::string_view text, size_t limit, Escape escape) {
  std::string whole = escape(text);
  if (Utf16Length(whole) <= limit) return whole;
  if (limit == 0) return "";
  std::string cut;
  size_t units = 0;
  for (size_t offset = 0; offset < text.size();) {
    const Utf8Char c = DecodeUtf8(text, offset);
    const std::string piece = escape(text.substr(offset, c.size));
    units += Utf16Length(piece);
    if (units > limit - 1) break;
    cut += piece;
    offset += c.size;
  }
  cut += kEllipsis;
  return cut;
}

std::string EscapeEntities(std::string_view text, std::string_view which) {
  std::string escaped;
  escaped.reserve(text.size());
  for (const char c : text) {
    if (which.find(c) == std::string_view::npos) {
      escaped += c;
      continue;
    }
    switch (c) {
      case '&':
        escaped += "&amp;";
        break;
      case '<':
        escaped += "&lt;";
        break;
      case '>':
        escaped += "&gt;";
        break;
      case '"':
        escaped += "&quot;";
        break;
      default:
        escaped += c;
    }
  }
  return escaped;
}

std::string EscapeMarkdown(std::string_view text) {
  constexpr std::string_view kSpecial = "\\`*_~|[]()<>#!";
  std::string escaped;
  escaped.reserve(text.size());
  for (const char c : text) {
    if (kSpecial.find(c) != std::string_view::npos) escaped += '\\';
    escaped += c;
  }
  return escaped;
}

std::string HmacSha256Hex(std::string_view key, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  size_t length = 0;
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(),
                reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest,
                sizeof(digest), &length) == nullptr) {
    return "";
  }
  std::string hex;
  hex.reserve(length * 2);
  for (size_t i = 0; i < length; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

std::string DumpJson(const nlohmann::json& json) {
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace portwatch::agent::notify
