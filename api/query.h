// Query: a request's query parameters, read as the values a handler wants. A missing parameter
// gets the handler's default; a malformed one throws HttpError 400 naming the parameter, what was
// given and what is accepted. Which parameters a route takes at all is checked before (router.h).
// Reads the request it was built from; not thread-safe, one per request.
#pragma once

#include <httplib.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "collectors/cidr.h"

namespace portwatch::api {

class Query {
 public:
  explicit Query(const httplib::Request& request) : request_(request) {}

  // The raw value; nullopt when absent.
  std::optional<std::string> Text(const char* name) const;
  std::optional<int64_t> Int(const char* name, int64_t min, int64_t max) const;
  int64_t Int(const char* name, int64_t fallback, int64_t min, int64_t max) const;
  // true/false, 1/0, yes/no; present without a value means true.
  bool Bool(const char* name, bool fallback) const;
  // A moment ("2026-11-24T03:10:00Z", "-2h", "yesterday 03:10") in Unix milliseconds.
  std::optional<int64_t> Moment(const char* name, int64_t now_ms) const;
  // A duration back from now ("24h") or a moment, for `since`.
  std::optional<int64_t> Since(const char* name, int64_t now_ms) const;
  // A duration ("30s", "5m") in milliseconds.
  std::optional<int64_t> Duration(const char* name) const;
  std::optional<collectors::Cidr> Network(const char* name) const;

 private:
  const httplib::Request& request_;
};

// A path placeholder as a number in [min, max]; `what` names it in the error ("alert id").
int64_t PathNumber(const std::string& text, std::string_view what, int64_t min, int64_t max);

}  // namespace portwatch::api
