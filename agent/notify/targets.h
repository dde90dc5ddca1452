// The implementations behind Target: the factory of each receiver's file, which MakeTarget picks
// from, and the text helpers every layout shares. Internal to agent/notify (and its tests); other
// code makes targets through MakeTarget.
//
// Lengths here are counted as the receivers count them: in UTF-16 code units (what JavaScript's
// String.length gives), so a limit is never exceeded by a character outside the BMP. Pure
// functions; thread-safe.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "agent/notify/message.h"
#include "agent/notify/target.h"
#include "agent/notify/template.h"
#include "collectors/untrusted_text.h"

namespace portwatch::agent::notify {

using collectors::DecodeUtf8;
using collectors::Utf8Char;

// Each takes a config MakeTarget has checked (URL present and http(s), Telegram's token and chat
// set) and the parsed template, if the config has one.
std::unique_ptr<Target> MakeSlackTarget(TargetConfig config, std::optional<Template> text);
std::unique_ptr<Target> MakeDiscordTarget(TargetConfig config, std::optional<Template> text);
std::unique_ptr<Target> MakeTeamsTarget(TargetConfig config, std::optional<Template> text);
std::unique_ptr<Target> MakeMattermostTarget(TargetConfig config, std::optional<Template> text);
std::unique_ptr<Target> MakeTelegramTarget(TargetConfig config, std::optional<Template> text);
std::unique_ptr<Target> MakeWebhookTarget(TargetConfig config, std::optional<Template> text);
std::unique_ptr<Target> MakeAlertmanagerTarget(TargetConfig config, std::optional<Template> text);

// The lead line of a message: the template rendered with `escape` applied to its values, else
// the Headline escaped; `escape` may be nullptr for plain text.
std::string LeadText(const Message& message, const std::optional<Template>& text, Escape escape);

// Every reason's text, joined by `separator`, most severe first.
std::string JoinReasons(const Message& message, std::string_view separator);

// The colour of a message, 0xRRGGBB: resolved events green, the others by severity (info grey,
// low blue, medium amber, high orange, critical red).
uint32_t SeverityColour(const Message& message);
std::string HexColour(uint32_t rgb);  // "#e67e22"

size_t Utf16Length(std::string_view text);
// At most `limit` UTF-16 units of `text`, cut between characters; a cut text ends in "…".
std::string Truncate(std::string_view text, size_t limit);
// `escape(text)` cut to at most `limit` UTF-16 units, never inside the escape of one character
// (no dangling "&am"); a cut text ends in "…". `escape` must work character by character.
std::string EscapeWithin(std::string_view text, size_t limit, Escape escape);

// `text` with each of `which` (any of & < > ") written as its HTML entity: Slack's mrkdwn wants
// only & < > escaped, Telegram's HTML mode also " inside attributes.
std::string EscapeEntities(std::string_view text, std::string_view which);

// Backslashes before the characters Markdown (Discord's, Mattermost's) reads as formatting, links
// or images, so a hostile value shows as typed.
std::string EscapeMarkdown(std::string_view text);

// Lowercase hex of HMAC-SHA256(key, data); empty only if OpenSSL fails.
std::string HmacSha256Hex(std::string_view key, std::string_view data);

// Compact JSON; invalid UTF-8 becomes U+FFFD rather than an exception.
std::string DumpJson(const nlohmann::json& json);

}  // namespace portwatch::agent::notify
