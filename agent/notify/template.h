// Template: a notification's text as the user writes it, with {{field}} placeholders.
//
//   "{{severity}} on {{host}}: {{program}} on {{local}} ({{reason}}) {{link}}"
//
// Substitution only: no conditions, loops or filters. Whitespace inside the braces is allowed
// ("{{ host }}"); anything outside a placeholder, single braces included, is copied as it is.
// A field the message has no value for renders as nothing. The fields:
//   host, event, severity, title, rule, reason (the most severe reason's text), reasons (every
//   reason's text, "; "-joined), program, exe, pid, user, protocol, local, remote, port, service,
//   category, exposure, count, id (the alert's), link, first_seen, last_seen (ISO-8601, UTC).
//
// Parsing checks every placeholder, so a typo fails when the config is loaded rather than when an
// alert is sent. A parsed Template is immutable; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/notify/message.h"
#include "collectors/result.h"

namespace portwatch::agent::notify {

// Makes a value safe inside the receiver's markup ("<" to "&lt;" for HTML).
using Escape = std::string (*)(std::string_view text);

class Template {
 public:
  // Errors: the text is empty (or only whitespace), a "{{" is not closed, a placeholder is empty
  // or names a field not listed above (the error names it and lists the valid ones).
  static Result<Template> Parse(std::string_view text);

  std::string Render(const Message& message) const;
  // Passes each substituted value through `escape`; the template's own text is left alone, so a
  // user may write the receiver's markup around the fields while hostile values stay inert.
  std::string Render(const Message& message, Escape escape) const;

  // "host, event, severity, ...", for messages.
  static std::string_view FieldNames();

 private:
  struct Piece {
    std::string literal;  // copied as is when `field` < 0
    int field = -1;       // index of the field to substitute
  };
  explicit Template(std::vector<Piece> pieces) : pieces_(std::move(pieces)) {}

  std::vector<Piece> pieces_;
};

}  // namespace portwatch::agent::notify
