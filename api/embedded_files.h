// The raw table api/embed_assets.cmake generates from web/ at build time: each file's path, its
// bytes and a strong ETag made from a hash of the bytes. Only assets.cpp reads it; everything
// else asks assets.h.
#pragma once

#include <span>
#include <string_view>

namespace portwatch::api {

struct EmbeddedFile {
  std::string_view path;   // relative to web/, with '/' separators
  std::string_view bytes;  // the file's content, byte for byte
  std::string_view etag;   // "\"…\"": 32 hex digits of the bytes' SHA-256, quoted
};

// Defined in the generated web_assets.cpp.
std::span<const EmbeddedFile> EmbeddedWebFiles();

}  // namespace portwatch::api
