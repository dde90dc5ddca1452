#include "tests/support/scoped_env.h"

#include <cstdlib>
#include <utility>

namespace portwatch::testing {

namespace {

void SetOrUnset(const std::string& name, const std::optional<std::string>& value) {
  if (value) {
    setenv(name.c_str(), value->c_str(), 1);
  } else {
    unsetenv(name.c_str());
  }
}

}  // namespace

ScopedEnv::ScopedEnv(std::string name, const std::optional<std::string>& value)
    : name_(std::move(name)) {
  if (const char* old = std::getenv(name_.c_str())) previous_ = old;
  SetOrUnset(name_, value);
}

ScopedEnv::~ScopedEnv() { SetOrUnset(name_, previous_); }

}  // namespace portwatch::testing
