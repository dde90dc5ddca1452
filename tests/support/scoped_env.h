// ScopedEnv: an environment variable set (or unset) for a scope, restored on destruction.
//
// The environment is the process's: use it from the test's own thread, with no other thread
// reading the environment meanwhile.
#pragma once

#include <optional>
#include <string>

namespace portwatch::testing {

class ScopedEnv {
 public:
  // Sets `name` to `value`, or unsets it when `value` is nullopt.
  ScopedEnv(std::string name, const std::optional<std::string>& value);
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> previous_;
};

}  // namespace portwatch::testing
