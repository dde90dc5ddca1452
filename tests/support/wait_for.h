// WaitFor: polling for a condition that another process (or the kernel) brings about.
#pragma once

#include <chrono>
#include <functional>

namespace portwatch::testing {

// Checks condition every 25 ms until it holds (true) or timeout has passed (false).
bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

}  // namespace portwatch::testing
