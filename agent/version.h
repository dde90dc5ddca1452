// portwatch's version: the project version and, when built from a git checkout, the commit it
// was built from ("0.1.0 (v0.1.0-12-gabcdef0123-dirty)"). Generated at build time by
// agent/version.cmake into one translation unit, so a new commit rebuilds one file, not the agent.
#pragma once

namespace portwatch::agent {

extern const char* const kVersion;

}  // namespace portwatch::agent
