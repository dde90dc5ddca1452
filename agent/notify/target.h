// Target: one kind of receiver (Slack, Discord, Teams, Mattermost, Telegram, a generic webhook,
// Alertmanager) — how a Message becomes the HTTP request that receiver documents.
//
// One implementation per file in agent/notify/; MakeTarget picks one by TargetConfig::type and
// checks the config (URL present, template valid). Rendering is pure: targets hold no state and
// are safe to share between threads once made.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <span>

#include "agent/notify/http_request.h"
#include "agent/notify/message.h"
#include "agent/notify/target_config.h"
#include "collectors/result.h"

namespace portwatch::agent::notify {

class Target {
 public:
  explicit Target(TargetConfig config) : config_(std::move(config)) {}
  virtual ~Target() = default;
  Target(const Target&) = delete;
  Target& operator=(const Target&) = delete;

  // The request announcing one alert event.
  virtual HttpRequest Render(const Message& message) const = 0;

  // Receivers that forget alerts not sent again (Alertmanager) want every active alert re-sent
  // this often, as one request from RenderActive; zero for the others.
  virtual std::chrono::milliseconds resend_every() const { return std::chrono::milliseconds(0); }
  // Only called when resend_every() is not zero; the default, for the targets where it is zero,
  // returns an empty request (no URL) that must not be sent.
  virtual HttpRequest RenderActive(std::span<const Message> active) const;

  // How long the receiver asked to be left alone after `response` (a 429 or 503), if it did: the
  // Retry-After header by default; a target whose service says it elsewhere reads that too.
  virtual std::optional<std::chrono::milliseconds> RetryAfter(const HttpResponse& response) const {
    return response.retry_after;
  }

  const TargetConfig& config() const { return config_; }

 private:
  TargetConfig config_;
};

// The types MakeTarget knows, for messages: "slack, discord, teams, mattermost, telegram,
// webhook, alertmanager".
std::string_view TargetTypeNames();

// Checks the config and makes its target; the error names the problem and the fix ("target
// 'ops': unknown type 'slak'; use one of ...", "target 'ops': template: unknown field
// {{prgram}}; ...").
Result<std::unique_ptr<Target>> MakeTarget(TargetConfig config);

}  // namespace portwatch::agent::notify
