// TargetConfig: one notification target as the config file describes it, secrets already read.
//
// The URL, bot token and HMAC key are secrets: they are read from a file or an environment
// variable by the config loader, and nothing may log them (log RedactUrl(url) and the target's
// name instead). A plain value; thread-compatible.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace portwatch::agent::notify {

struct TargetConfig {
  std::string name;    // unique among the targets; what `notify test NAME` and the outbox use
  std::string type;    // slack, discord, teams, mattermost, telegram, webhook, alertmanager
  std::string source;  // "portwatch.yaml:31", for messages

  // Where to send. Telegram: the API's base URL (default https://api.telegram.org); Alertmanager:
  // its base URL (the target posts to <url>/api/v2/alerts); the others: the webhook URL.
  std::string url;        // secret
  std::string bot_token;  // telegram; secret
  std::string chat_id;    // telegram
  std::string hmac_key;  // webhook: signs the body (X-Portwatch-Signature); secret; empty: unsigned

  // Which alert events this target takes.
  int min_severity = 1;            // rules::Severity
  std::vector<std::string> rules;  // only alerts with a reason from one of these; empty: all
  bool send_resolved = true;

  // At most `rate_limit` messages per `rate_period`; more wait in the outbox. 0: no limit.
  int rate_limit = 0;
  std::chrono::milliseconds rate_period{std::chrono::minutes(1)};

  // The message's text, with {{field}} placeholders (see template.h); empty: the built-in text.
  std::string template_text;

  std::string ca_file;  // PEM bundle that signs the receiver's certificate; empty: the system's
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};
  // Alertmanager: how often every active alert is sent again (it forgets alerts not re-sent).
  std::chrono::milliseconds resend_every{std::chrono::minutes(1)};
};

}  // namespace portwatch::agent::notify
