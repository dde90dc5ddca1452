// Assets: the dashboard's static files (web/), embedded into the binary at build time, so the
// agent serves the page with no files on disk and nothing fetched from elsewhere.
//
// api/embed_assets.cmake turns every file under web/ into one entry of a table compiled into
// portwatch_api; an edit to web/ regenerates it on the next build. Each asset has its path
// relative to web/, its bytes, a Content-Type chosen by extension and a strong ETag (a hash of
// the bytes), so a browser revalidates with If-None-Match and gets 304 when nothing changed.
// Lookups are by exact path in that table only: no path ever reaches the file system. Immutable
// after static initialisation: thread-safe.
#pragma once

#include <span>
#include <string_view>

namespace portwatch::api {

struct Asset {
  std::string_view path;  // "index.html", "pages/overview.js", "i18n/ar.json"
  std::string_view content_type;
  std::string_view bytes;
  std::string_view etag;  // quoted, as the ETag header carries it: "\"3f2a…\""
};

// Every embedded file, ordered by path.
std::span<const Asset> DashboardAssets();

// The asset at exactly `path` (no leading slash), or nullptr.
const Asset* FindAsset(std::string_view path);

// "text/javascript; charset=utf-8" for "app.js"; application/octet-stream when the extension is
// not one the dashboard uses.
std::string_view ContentTypeFor(std::string_view path);

// Whether an If-None-Match header value ("\"a\", W/\"b\"" or "*") names `etag`; comparison is
// weak, as RFC 9110 wants for If-None-Match.
bool EtagMatches(std::string_view if_none_match, std::string_view etag);

}  // namespace portwatch::api
