// Process signals as flags: SIGINT and SIGTERM ask the loop to stop, SIGHUP to reload.
//
// The handlers only set atomic flags (async-signal-safe); the loop polls them between steps.
#pragma once

#include <atomic>

namespace portwatch::agent {

struct SignalFlags {
  std::atomic<bool> stop{false};
  std::atomic<bool> reload{false};
};

// Installs the handlers once and returns the flags they set.
SignalFlags& InstallSignalHandlers();

}  // namespace portwatch::agent
