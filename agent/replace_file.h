// ReplaceFile: writes a whole file so that a reader sees the old content or the new, never half
// of it — written beside the target, flushed, then renamed over it.
#pragma once

#include <string>
#include <string_view>

#include "collectors/result.h"

namespace portwatch::agent {

// On failure the target is untouched and no temporary file is left; the error names the path.
Result<void> ReplaceFile(const std::string& path, std::string_view content);

}  // namespace portwatch::agent
