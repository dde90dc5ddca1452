#include "agent/signals.h"

#include <csignal>

namespace portwatch::agent {

namespace {

SignalFlags flags;

extern "C" void OnStop(int) { flags.stop.store(true); }
extern "C" void OnReload(int) { flags.reload.store(true); }

}  // namespace

SignalFlags& InstallSignalHandlers() {
  struct sigaction stop {};
  stop.sa_handler = OnStop;
  sigemptyset(&stop.sa_mask);
  sigaction(SIGINT, &stop, nullptr);
  sigaction(SIGTERM, &stop, nullptr);
  struct sigaction reload {};
  reload.sa_handler = OnReload;
  sigemptyset(&reload.sa_mask);
  sigaction(SIGHUP, &reload, nullptr);
  return flags;
}

}  // namespace portwatch::agent
